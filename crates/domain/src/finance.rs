//! Finance rules: ledger transaction types, payment statuses and purposes, and the
//! proof-of-knowledge reward table (by difficulty and score), as data.

use std::fmt;
use std::str::FromStr;

use crate::enums::UnknownVariant;

/// A text enum stored in SCREAMING_CASE (the same shape as `enums::text_enum`).
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use stored_enum;

stored_enum! {
    /// What a ledger row records. Credits are positive, debits negative.
    TransactionType {
        Deposit => "DEPOSIT",
        Withdrawal => "WITHDRAWAL",
        TransferIn => "TRANSFER_IN",
        TransferOut => "TRANSFER_OUT",
        MiningReward => "MINING_REWARD",
        Payment => "PAYMENT",
        Refund => "REFUND",
        Fee => "FEE",
    }
}

stored_enum! {
    /// Where a payment is: PENDING until the processor answers, then SUCCEEDED or FAILED; a
    /// SUCCEEDED payment may be REFUNDED once.
    PaymentStatus {
        Pending => "PENDING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Refunded => "REFUNDED",
    }
}

impl PaymentStatus {
    /// Whether a payment may move from `self` to `next`.
    pub fn can_move_to(self, next: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, next),
            (Pending, Succeeded) | (Pending, Failed) | (Succeeded, Refunded)
        )
    }
}

stored_enum! {
    /// What a payment is for: a top-up credits the wallet, a withdrawal (a payout to the card)
    /// debits it.
    PaymentPurpose {
        TopUp => "TOP_UP",
        Withdrawal => "WITHDRAWAL",
    }
}

stored_enum! {
    /// How hard an assessment is; with the score it decides the mining reward.
    Difficulty {
        Beginner => "BEGINNER",
        Intermediate => "INTERMEDIATE",
        Advanced => "ADVANCED",
    }
}

/// One row of the reward table: at `difficulty`, a passing score of at least `min_score`
/// percent earns `reward` AZR smallest units (cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewardRule {
    pub difficulty: Difficulty,
    pub min_score: u32,
    pub reward: i64,
}

/// The proof-of-knowledge reward table. Rows of one difficulty are listed best score first; the
/// first row whose `min_score` the score reaches applies.
pub const REWARD_TABLE: &[RewardRule] = &[
    RewardRule {
        difficulty: Difficulty::Beginner,
        min_score: 90,
        reward: 1_500,
    },
    RewardRule {
        difficulty: Difficulty::Beginner,
        min_score: 0,
        reward: 1_000,
    },
    RewardRule {
        difficulty: Difficulty::Intermediate,
        min_score: 90,
        reward: 3_000,
    },
    RewardRule {
        difficulty: Difficulty::Intermediate,
        min_score: 0,
        reward: 2_000,
    },
    RewardRule {
        difficulty: Difficulty::Advanced,
        min_score: 90,
        reward: 7_500,
    },
    RewardRule {
        difficulty: Difficulty::Advanced,
        min_score: 0,
        reward: 5_000,
    },
];

/// The AZR reward (cents) for passing an assessment of `difficulty` with `score_percent`.
pub fn mining_reward(difficulty: Difficulty, score_percent: u32) -> i64 {
    REWARD_TABLE
        .iter()
        .find(|r| r.difficulty == difficulty && score_percent >= r.min_score)
        .map_or(0, |r| r.reward)
}

/// What an idempotent request is, so a key reused for a different request is recognised: the
/// operation and its parameters, joined unambiguously.
pub fn request_fingerprint(operation: &str, parts: &[&str]) -> String {
    let mut out = String::from(operation);
    for p in parts {
        out.push('|');
        out.push_str(&p.len().to_string());
        out.push(':');
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewards_grow_with_difficulty_and_score() {
        assert_eq!(mining_reward(Difficulty::Beginner, 60), 1_000);
        assert_eq!(mining_reward(Difficulty::Beginner, 95), 1_500);
        assert_eq!(mining_reward(Difficulty::Advanced, 90), 7_500);
        for d in Difficulty::ALL {
            assert!(mining_reward(*d, 100) >= mining_reward(*d, 0));
        }
    }

    #[test]
    fn payments_move_forward_only() {
        use PaymentStatus::*;
        assert!(Pending.can_move_to(Succeeded));
        assert!(Succeeded.can_move_to(Refunded));
        assert!(!Refunded.can_move_to(Refunded));
        assert!(!Failed.can_move_to(Refunded));
        assert!(!Pending.can_move_to(Refunded));
    }

    #[test]
    fn fingerprints_do_not_collide_on_separators() {
        assert_ne!(
            request_fingerprint("t", &["a|b", "c"]),
            request_fingerprint("t", &["a", "b|c"])
        );
    }
}
