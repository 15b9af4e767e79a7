//! Payment processors: what charges or pays out a card. The trait is the seam for a real
//! network; the default is [`OfflineProcessor`], which moves no real money and decides
//! deterministically from the payment method token, so tests and demos know the outcome.

use async_trait::async_trait;

/// What the processor is asked to do.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub payment_id: String,
    /// Smallest unit of `currency`.
    pub amount: i64,
    pub currency: String,
    /// TOP_UP (charge the card) or WITHDRAWAL (pay out to it).
    pub purpose: String,
    /// The client's payment method token.
    pub payment_method: String,
}

/// The processor's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Succeeded { reference: String },
    Failed { reason: String },
}

#[async_trait]
pub trait PaymentProcessor: Send + Sync {
    /// The provider's name, stored on each payment.
    fn name(&self) -> &'static str;
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome;
    /// Reverses a succeeded charge; `Err` carries the processor's reason.
    async fn refund(&self, reference: &str, amount: i64) -> Result<(), String>;
}

/// The payment method token the offline processor declines.
pub const DECLINED_TOKEN: &str = "tok_declined";
/// The payment method token the offline processor accepts (any other token but
/// [`DECLINED_TOKEN`] is accepted too).
pub const DEFAULT_TOKEN: &str = "tok_visa";

/// No card network: `tok_declined` fails with `card_declined`, every other token succeeds with
/// the reference `offline_<payment id>`.
pub struct OfflineProcessor;

#[async_trait]
impl PaymentProcessor for OfflineProcessor {
    fn name(&self) -> &'static str {
        "offline"
    }

    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        if request.payment_method == DECLINED_TOKEN {
            ChargeOutcome::Failed {
                reason: "card_declined".into(),
            }
        } else {
            ChargeOutcome::Succeeded {
                reference: format!("offline_{}", request.payment_id),
            }
        }
    }

    async fn refund(&self, _reference: &str, _amount: i64) -> Result<(), String> {
        Ok(())
    }
}
