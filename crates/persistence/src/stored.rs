//! Core-domain enums as entity fields. Enums are stored as text in the seeds' spellings
//! (`short-form`, `ACTIVE`); [`Text`] lets an entity column hold the enum itself, so stores hand
//! the gateway a `MessageRole`, not a string to compare with `as_str()`. A stored spelling the code
//! does not know fails the row's decoding (a type error, mapped to INTERNAL above), never silently.
//!
//! `Text<T>` exists because neither the enums (core-domain has no SeaORM) nor SeaORM's traits are
//! this crate's: the wrapper is, so it can implement them once for every [`Spelled`] enum.

use std::fmt;
use std::ops::Deref;

use core_domain::enums::{
    ConversationStatus, KeyProvider, MessageRole, MessageStatus, PromptType, Role, StreamType,
    UnknownVariant,
};
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, StringLen, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable, Value};

/// An enum with one stored spelling per variant.
pub trait Spelled: Copy + Send + Sync + 'static {
    fn spelling(self) -> &'static str;
    fn from_spelling(s: &str) -> Result<Self, UnknownVariant>;
    fn type_name() -> &'static str;
}

macro_rules! spelled {
    ($($t:ident),+) => {$(
        impl Spelled for $t {
            fn spelling(self) -> &'static str {
                self.as_str()
            }
            fn from_spelling(s: &str) -> Result<Self, UnknownVariant> {
                s.parse()
            }
            fn type_name() -> &'static str {
                stringify!($t)
            }
        }
    )+};
}

spelled!(
    Role,
    MessageRole,
    MessageStatus,
    ConversationStatus,
    PromptType,
    KeyProvider,
    StreamType
);

/// A [`Spelled`] enum in a text column.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Text<T>(pub T);

impl<T> Deref for Text<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Text<T> {
    fn from(t: T) -> Self {
        Text(t)
    }
}

impl<T: Spelled> fmt::Debug for Text<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.spelling())
    }
}

impl<T: Spelled> PartialEq<T> for Text<T>
where
    T: PartialEq,
{
    fn eq(&self, other: &T) -> bool {
        self.0 == *other
    }
}

impl<T: Spelled> From<Text<T>> for Value {
    fn from(t: Text<T>) -> Self {
        Value::String(Some(t.0.spelling().to_owned()))
    }
}

impl<T: Spelled> TryGetable for Text<T> {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let text = String::try_get_by(res, index)?;
        T::from_spelling(&text)
            .map(Text)
            .map_err(|e| TryGetError::DbErr(DbErr::Type(e.to_string())))
    }
}

impl<T: Spelled> ValueType for Text<T> {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::String(Some(s)) => T::from_spelling(&s).map(Text).map_err(|_| ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        T::type_name().to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::String(StringLen::None)
    }
}

impl<T: Spelled> Nullable for Text<T> {
    fn null() -> Value {
        Value::String(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_unknown_ones_are_refused() {
        for role in MessageRole::ALL {
            let value: Value = Text(*role).into();
            assert_eq!(
                <Text<MessageRole> as ValueType>::try_from(value).unwrap(),
                *role
            );
        }
        assert!(
            <Text<PromptType> as ValueType>::try_from(Value::String(Some("open".into()))).is_ok()
        );
        assert!(
            <Text<PromptType> as ValueType>::try_from(Value::String(Some("OPEN".into()))).is_err()
        );
    }
}
