//! The built-in models on candle.
