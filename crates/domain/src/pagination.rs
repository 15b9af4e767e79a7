//! Page arguments for Relay connections: `first`/`after` pages forwards, `last`/`before`
//! backwards. A page is 20 items unless the caller asks otherwise, and never more than 100, so
//! no request can make the server load an unbounded list.

use crate::validation::ValidationError;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;

/// Which way a page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageDirection {
    /// `first` items after the cursor.
    Forward,
    /// `last` items before the cursor.
    Backward,
}

/// Validated page arguments; cursors are still opaque strings here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageArgs {
    pub direction: PageDirection,
    pub size: u64,
    pub cursor: Option<String>,
}

impl PageArgs {
    /// Checks Relay arguments: `first` and `last` are not both given, sizes are 0..=100, and a
    /// cursor goes with its own direction (`after` with `first`, `before` with `last`).
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Self, ValidationError> {
        let size = |n: i32, field: &'static str| -> Result<u64, ValidationError> {
            u64::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_PAGE_SIZE)
                .ok_or_else(|| {
                    ValidationError::new(field, format!("must be between 0 and {MAX_PAGE_SIZE}"))
                })
        };
        match (first, last) {
            (Some(_), Some(_)) => Err(ValidationError::new(
                "last",
                "cannot be combined with first",
            )),
            (_, Some(n)) => {
                if after.is_some() {
                    return Err(ValidationError::new(
                        "after",
                        "cannot be combined with last",
                    ));
                }
                Ok(Self {
                    direction: PageDirection::Backward,
                    size: size(n, "last")?,
                    cursor: before,
                })
            }
            (first, None) => {
                if before.is_some() {
                    return Err(ValidationError::new("before", "needs last"));
                }
                let size = match first {
                    Some(n) => size(n, "first")?,
                    None => DEFAULT_PAGE_SIZE,
                };
                Ok(Self {
                    direction: PageDirection::Forward,
                    size,
                    cursor: after,
                })
            }
        }
    }

    /// The first page of the default size.
    pub fn first(size: u64) -> Self {
        Self {
            direction: PageDirection::Forward,
            size: size.min(MAX_PAGE_SIZE),
            cursor: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_caps() {
        let p = PageArgs::new(None, None, None, None).unwrap();
        assert_eq!(
            (p.direction, p.size),
            (PageDirection::Forward, DEFAULT_PAGE_SIZE)
        );
        assert_eq!(
            PageArgs::new(Some(100), None, None, None).unwrap().size,
            100
        );
        assert_eq!(
            PageArgs::new(Some(101), None, None, None)
                .unwrap_err()
                .field,
            "first"
        );
        assert_eq!(
            PageArgs::new(Some(-1), None, None, None).unwrap_err().field,
            "first"
        );
        assert_eq!(
            PageArgs::new(None, None, Some(500), None)
                .unwrap_err()
                .field,
            "last"
        );
    }

    #[test]
    fn directions_do_not_mix() {
        assert!(PageArgs::new(Some(1), None, Some(1), None).is_err());
        assert!(PageArgs::new(None, Some("c".into()), Some(1), None).is_err());
        assert!(PageArgs::new(Some(1), None, None, Some("c".into())).is_err());
        let back = PageArgs::new(None, None, Some(5), Some("c".into())).unwrap();
        assert_eq!(back.direction, PageDirection::Backward);
        assert_eq!(back.cursor.as_deref(), Some("c"));
    }
}
