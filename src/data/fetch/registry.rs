//! The named datasets: where PyG, DGL and OGB download them from, and what to expect.

/// How a dataset's downloads become the folder its reader loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The downloaded files are the dataset (Planetoid's eight `ind.NAME.*` pickles).
    Files,
    /// One zip, unpacked with its single top-level folder (if any) stripped.
    Zip,
}

/// One file to download.
#[derive(Clone, Copy, Debug)]
pub struct Remote {
    /// The file's name: in the cache, and after `$GCNSIM_DATASET_MIRROR/`.
    pub file: &'static str,
    pub url: &'static str,
    /// Bytes, where known exactly (else `approx_bytes` is a published round figure).
    pub bytes: Option<u64>,
    pub approx_bytes: u64,
    /// SHA-256 as the upstream serves it, where known; else recorded on first download.
    pub sha256: Option<&'static str>,
}

#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub name: &'static str,
    pub layout: Layout,
    pub remotes: &'static [Remote],
    /// Who publishes it, for `gcnsim data list`.
    pub source: &'static str,
}

impl Entry {
    /// The download size, exact or approximate, and whether it is exact.
    pub fn download_bytes(&self) -> (u64, bool) {
        let exact = self.remotes.iter().all(|r| r.bytes.is_some());
        (self.remotes.iter().map(|r| r.bytes.unwrap_or(r.approx_bytes)).sum(), exact)
    }
}

/// The Planetoid project's repository, which PyG's `Planetoid` downloads from (GitHub answers
/// with a redirect to raw.githubusercontent.com).
macro_rules! planetoid {
    ($file:literal, $bytes:expr, $sha:expr) => {
        Remote {
            file: $file,
            url: concat!("https://github.com/kimiyoung/planetoid/raw/master/data/", $file),
            bytes: $bytes,
            approx_bytes: match $bytes {
                Some(b) => b,
                None => 0,
            },
            sha256: $sha,
        }
    };
}

const CORA: &[Remote] = &[
    planetoid!("ind.cora.x", Some(22119), Some("23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab")),
    planetoid!("ind.cora.y", Some(4054), Some("94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1")),
    planetoid!("ind.cora.tx", Some(148025), Some("b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a")),
    planetoid!("ind.cora.ty", Some(28135), Some("41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad")),
    planetoid!("ind.cora.allx", Some(257305), Some("9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543")),
    planetoid!("ind.cora.ally", Some(47959), Some("2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71")),
    planetoid!("ind.cora.graph", Some(59847), Some("58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d")),
    planetoid!(
        "ind.cora.test.index",
        Some(5000),
        Some("297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875")
    ),
];

const CITESEER: &[Remote] = &[
    planetoid!("ind.citeseer.x", Some(31087), Some("d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6")),
    planetoid!("ind.citeseer.y", Some(3014), Some("8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924")),
    planetoid!(
        "ind.citeseer.tx",
        Some(260321),
        Some("539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21")
    ),
    planetoid!(
        "ind.citeseer.ty",
        Some(24135),
        Some("55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce")
    ),
    planetoid!(
        "ind.citeseer.allx",
        Some(595021),
        Some("2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668")
    ),
    planetoid!(
        "ind.citeseer.ally",
        Some(55623),
        Some("f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95")
    ),
    planetoid!(
        "ind.citeseer.graph",
        Some(61987),
        Some("d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7")
    ),
    planetoid!(
        "ind.citeseer.test.index",
        Some(5000),
        Some("2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4")
    ),
];

const PUBMED: &[Remote] = &[
    planetoid!("ind.pubmed.x", Some(23172), Some("fbe9cb5c47200d1b7769a26e579be3b7130b556831f9d850e77c4c74f2599b33")),
    planetoid!("ind.pubmed.y", Some(854), Some("e6c807633307a07ed659249006536a147c7999c797f11a2560752990181b41b3")),
    planetoid!("ind.pubmed.tx", Some(405505), Some("4eb5f5d0f30f26497eb0ac6ac9719d09c67e284f1ed0385c93f3ef27a671da3d")),
    planetoid!("ind.pubmed.ty", Some(12135), Some("ee2e0d4819d9fbcc403689c3bf2e49face401b605932f093bc58ab6461130fdd")),
    // No published SHA-256 or size: recorded in the cache's SHA256SUMS on first download. About
    // 4.6 MB is an estimate from the other files (18,717 rows of TF-IDF, like `tx`'s 1,000 rows).
    Remote {
        file: "ind.pubmed.allx",
        url: "https://github.com/kimiyoung/planetoid/raw/master/data/ind.pubmed.allx",
        bytes: None,
        approx_bytes: 4_600_000,
        sha256: None,
    },
    planetoid!(
        "ind.pubmed.ally",
        Some(224739),
        Some("0c37bbe3b5014ec365e9d393cf4791925e5ed94fb194305d74f064a8d7b50f0e")
    ),
    planetoid!(
        "ind.pubmed.graph",
        Some(471808),
        Some("5b89f0036ca22909471f1e6558eb42fa06e0c730a577bde5b058b40638f81dc9")
    ),
    planetoid!(
        "ind.pubmed.test.index",
        Some(6000),
        Some("b101d421688bbaecbd82e8a18f1e282378d6830f3a37666f28ebc47f844341b5")
    ),
];

/// OGB's master table (`ogb/nodeproppred/master.csv`) gives these URLs over http; the same
/// server answers over https, which is used here since OGB publishes no checksums.
const ARXIV: &[Remote] = &[Remote {
    file: "arxiv.zip",
    url: "https://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip",
    bytes: None,
    approx_bytes: 81_000_000,
    sha256: None,
}];

const PRODUCTS: &[Remote] = &[Remote {
    file: "products.zip",
    url: "https://snap.stanford.edu/ogb/data/nodeproppred/products.zip",
    bytes: None,
    approx_bytes: 1_380_000_000,
    sha256: None,
}];

/// What PyG's `Reddit` and DGL's `RedditDataset` both download.
const REDDIT: &[Remote] = &[Remote {
    file: "reddit.zip",
    url: "https://data.dgl.ai/dataset/reddit.zip",
    bytes: None,
    approx_bytes: 1_300_000_000,
    sha256: None,
}];

pub const ENTRIES: &[Entry] = &[
    Entry { name: "cora", layout: Layout::Files, remotes: CORA, source: "Planetoid (Yang et al. 2016), as PyG" },
    Entry {
        name: "citeseer",
        layout: Layout::Files,
        remotes: CITESEER,
        source: "Planetoid (Yang et al. 2016), as PyG",
    },
    Entry { name: "pubmed", layout: Layout::Files, remotes: PUBMED, source: "Planetoid (Yang et al. 2016), as PyG" },
    Entry { name: "ogbn-arxiv", layout: Layout::Zip, remotes: ARXIV, source: "OGB (snap.stanford.edu)" },
    Entry { name: "ogbn-products", layout: Layout::Zip, remotes: PRODUCTS, source: "OGB (snap.stanford.edu)" },
    Entry {
        name: "reddit",
        layout: Layout::Zip,
        remotes: REDDIT,
        source: "GraphSAGE Reddit, as DGL and PyG (data.dgl.ai)",
    },
];

/// The entry called `name`, if any.
pub fn find(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.name == name)
}

/// Every known name, for messages.
pub fn names() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_files_are_plain_names() {
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ENTRIES.len());
        for e in ENTRIES {
            assert!(!e.remotes.is_empty(), "{}", e.name);
            for r in e.remotes {
                assert!(!r.file.contains('/') && r.url.ends_with(r.file) && r.url.starts_with("https://"), "{r:?}");
                assert!(r.sha256.is_none_or(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())), "{r:?}");
                assert!(r.bytes.is_some() || r.approx_bytes > 0, "{r:?}");
            }
            if e.layout == Layout::Zip {
                assert_eq!(e.remotes.len(), 1, "{}", e.name);
            }
        }
    }

    #[test]
    fn planetoid_names_have_their_eight_files() {
        for name in ["cora", "citeseer", "pubmed"] {
            let e = find(name).unwrap();
            let files: Vec<&str> = e.remotes.iter().map(|r| r.file).collect();
            for ext in ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"] {
                assert!(files.contains(&format!("ind.{name}.{ext}").as_str()), "{name} {ext}");
            }
        }
        assert!(find("ogbn-papers100M").is_none());
    }
}
