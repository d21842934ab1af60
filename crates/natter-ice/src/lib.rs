//! natter-ice (being built)
