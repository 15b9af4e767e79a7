//! Money: currencies, their smallest units, and exact conversion between an amount's text (what
//! the API shows and takes, e.g. `"12.50"`) and its integer count of smallest units (what is
//! stored). Never a float anywhere.

use std::fmt;
use std::str::FromStr;

use crate::enums::UnknownVariant;

/// The currencies a wallet can hold. No conversion between them is ever implied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    /// Azora's own token, minted by proof-of-knowledge rewards.
    Azr,
    Btc,
    Eth,
    Usd,
    Zar,
}

impl Currency {
    pub const ALL: &'static [Currency] = &[
        Currency::Azr,
        Currency::Btc,
        Currency::Eth,
        Currency::Usd,
        Currency::Zar,
    ];

    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Currency::Azr => "AZR",
            Currency::Btc => "BTC",
            Currency::Eth => "ETH",
            Currency::Usd => "USD",
            Currency::Zar => "ZAR",
        }
    }

    /// How many decimal places the smallest unit is: cents for USD and ZAR (and AZR), satoshi
    /// for BTC, gwei for ETH (wei would overflow a 64-bit count at 9.2 ETH).
    pub const fn decimals(self) -> u32 {
        match self {
            Currency::Azr | Currency::Usd | Currency::Zar => 2,
            Currency::Btc => 8,
            Currency::Eth => 9,
        }
    }
}

impl FromStr for Currency {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownVariant {
                kind: "Currency",
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an amount's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a decimal number such as \"12.50\"")]
    Malformed,
    #[error("{currency} takes at most {decimals} decimal places")]
    TooManyDecimals { currency: Currency, decimals: u32 },
    #[error("must be greater than zero")]
    NotPositive,
    #[error("is too large")]
    TooLarge,
}

/// Parses a positive amount of `currency` exactly: digits, optionally a point and at most the
/// currency's decimals (`"10"`, `"10.5"`, `"10.50"`); no sign, exponent, spaces or separators.
pub fn parse_amount(currency: Currency, text: &str) -> Result<i64, AmountError> {
    let decimals = currency.decimals();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || (text.ends_with('.')) {
        return Err(AmountError::Malformed);
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > decimals as usize {
        return Err(AmountError::TooManyDecimals { currency, decimals });
    }
    let scale = 10i64.pow(decimals);
    let whole: i64 = whole.trim_start_matches('0').parse::<i64>().or_else(|_| {
        if whole.trim_start_matches('0').is_empty() {
            Ok(0)
        } else {
            Err(AmountError::TooLarge)
        }
    })?;
    let mut fraction: i64 = 0;
    if !frac.is_empty() {
        fraction = frac.parse::<i64>().map_err(|_| AmountError::Malformed)?
            * 10i64.pow(decimals - frac.len() as u32);
    }
    let units = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction))
        .ok_or(AmountError::TooLarge)?;
    if units <= 0 {
        return Err(AmountError::NotPositive);
    }
    Ok(units)
}

/// `units` of `currency` as text with exactly the currency's decimals (`1250` USD → `"12.50"`),
/// signed when negative.
pub fn format_amount(currency: Currency, units: i64) -> String {
    let decimals = currency.decimals();
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let scale = 10u64.pow(decimals);
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(parse_amount(Currency::Usd, "12.50"), Ok(1250));
        assert_eq!(parse_amount(Currency::Usd, "12.5"), Ok(1250));
        assert_eq!(parse_amount(Currency::Usd, "12"), Ok(1200));
        assert_eq!(parse_amount(Currency::Usd, "0.01"), Ok(1));
        assert_eq!(parse_amount(Currency::Usd, "12.500"), Ok(1250));
        assert_eq!(parse_amount(Currency::Btc, "0.00000001"), Ok(1));
        assert_eq!(
            parse_amount(Currency::Eth, "1.000000001"),
            Ok(1_000_000_001)
        );
        assert_eq!(
            parse_amount(Currency::Usd, "0.001"),
            Err(AmountError::TooManyDecimals {
                currency: Currency::Usd,
                decimals: 2
            })
        );
        for bad in [
            "", ".5", "1.", "-1", "+1", "1e3", "1,5", " 1", "1.2.3", "abc",
        ] {
            assert_eq!(
                parse_amount(Currency::Usd, bad),
                Err(AmountError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_amount(Currency::Usd, "0"),
            Err(AmountError::NotPositive)
        );
        assert_eq!(
            parse_amount(Currency::Usd, "0.00"),
            Err(AmountError::NotPositive)
        );
        assert_eq!(
            parse_amount(Currency::Usd, "99999999999999999999"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            parse_amount(Currency::Usd, "92233720368547758.08"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn amounts_format_with_the_currency_decimals() {
        assert_eq!(format_amount(Currency::Usd, 1250), "12.50");
        assert_eq!(format_amount(Currency::Zar, 5), "0.05");
        assert_eq!(format_amount(Currency::Usd, -1250), "-12.50");
        assert_eq!(format_amount(Currency::Btc, 1), "0.00000001");
        assert_eq!(format_amount(Currency::Usd, 0), "0.00");
        for c in Currency::ALL {
            let text = format_amount(*c, 123_456_789);
            assert_eq!(parse_amount(*c, &text), Ok(123_456_789));
        }
    }
}
