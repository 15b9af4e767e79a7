#![doc = include_str!("../README.md")]
pub mod community;
pub mod education;
pub mod enums;
pub mod finance;
pub mod ids;
pub mod money;
pub mod pagination;
pub mod policy;
pub mod research;
pub mod time;
pub mod validation;
pub mod workspace;

pub use enums::*;
pub use policy::{Action, Actor, Resource};
pub use validation::ValidationError;
