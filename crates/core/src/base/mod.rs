//! Leaves every layer may use: the clock, identifiers, secrets, logging, markup escaping
//! and timeouts. They import nothing else of the broker.

pub mod clock;
pub mod failure;
pub mod ids;
pub mod log;
pub mod markup;
pub mod parse;
pub mod secret;
pub mod timeout;
