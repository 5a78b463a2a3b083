//! Credentials from beyond our border (互通互认): EU Digital COVID Certificates (`HC1:`) and
//! SMART Health Cards (`shc:/`), verified against the trust material they come with.
