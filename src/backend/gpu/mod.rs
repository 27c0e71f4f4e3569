//! GPU backend (wgpu): see the submodules.
