//! natter-media (being built)
