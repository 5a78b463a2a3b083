//! Our own token format end to end.
