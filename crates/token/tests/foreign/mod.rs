//! Conformance with the EU DCC and SMART Health Cards test suites.
