//! Text from a results folder made safe for the page: HTML text and attributes, JSON inside a
//! `<script>` element, SVG inside a `data:` address.

/// `text` as HTML text or a quoted attribute value: a run label `a<b"c` stays text.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that can sit inside `<script type="application/json">`: no `<` at all, so neither
/// `</script>` nor `<!--` can end or change the element (`\u003c` is the same JSON string).
pub fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// An SVG document as the address of an `<img>` (`data:image/svg+xml,…`), ready for an
/// attribute in single quotes. An image's scripts never run, so a figure cannot reach the page.
/// Only what would end the attribute or change the address is encoded (`<`, `>` and `"` are
/// legal in both), so a figure costs about its own size.
pub fn svg_data_url(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len() + svg.len() / 8 + 32);
    out.push_str("data:image/svg+xml,");
    for c in svg.chars() {
        match c {
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            '\t' => out.push_str("%09"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("%27"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_stays_text() {
        assert_eq!(html(r#"<b>a & "b" 'c'</b>"#), "&lt;b&gt;a &amp; &quot;b&quot; &#39;c&#39;&lt;/b&gt;");
        assert_eq!(html("plain"), "plain");
    }

    #[test]
    fn json_cannot_close_its_script() {
        let json = serde_json::to_string(&"</script><script>alert(1)</script><!--").unwrap();
        let safe = script_json(&json);
        assert!(!safe.contains('<'), "{safe}");
        assert_eq!(serde_json::from_str::<String>(&safe).unwrap(), "</script><script>alert(1)</script><!--");
    }

    #[test]
    fn svg_addresses_cannot_end_their_attribute() {
        let url = svg_data_url("<svg a=\"1\" b='2'>#50%\n&amp;</svg>");
        assert_eq!(url, "data:image/svg+xml,<svg a=\"1\" b=%272%27>%2350%25%0A&amp;amp;</svg>");
        assert!(!url.contains(['\'', '\n']));
    }
}
