#![doc = include_str!("../README.md")]
pub mod community;
pub mod enums;
pub mod ids;
pub mod pagination;
pub mod policy;
pub mod research;
pub mod time;
pub mod validation;

pub use enums::*;
pub use policy::{Action, Actor, Resource};
pub use validation::ValidationError;
