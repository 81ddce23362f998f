//! Graph passes on the specialised graph: constant folding (during shape inference), operator
//! fusion, weight preparation and dead-node elimination.
pub(crate) mod dce;
pub(crate) mod fold;
pub(crate) mod fuse;
pub(crate) mod prepare;
