//! The card's compact JWS: `header.payload.signature`, base64url without padding, header
//! `{"zip":"DEF","alg":"ES256","kid":…}`, payload raw DEFLATE (RFC 1951, no zlib header).

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::inflate::MAX_INFLATED;

pub struct Jws<'a> {
    /// `header.payload` as sent: the bytes the signature covers.
    pub signing_input: &'a str,
    pub alg: Option<String>,
    pub kid: Option<String>,
    pub zip: Option<String>,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

fn b64(part: &str, what: &str) -> Result<Vec<u8>, String> {
    // Strict: no padding, no stray trailing bits, no standard-alphabet characters.
    URL_SAFE_NO_PAD.decode(part).map_err(|e| format!("{what} is not base64url: {e}"))
}

pub fn parse(text: &str) -> Result<Jws<'_>, String> {
    let mut parts = text.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a compact JWS has exactly three parts".into());
    };
    let header_json: Value =
        serde_json::from_slice(&b64(header, "the header")?).map_err(|e| format!("the header is not JSON: {e}"))?;
    let Value::Object(fields) = header_json else { return Err("the header is not a JSON object".into()) };
    if fields.contains_key("crit") {
        return Err("critical header parameters this verifier does not know".into());
    }
    let text_field = |name: &str| -> Result<Option<String>, String> {
        match fields.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("header {name} is not a string")),
        }
    };
    Ok(Jws {
        signing_input: &text[..header.len() + 1 + payload.len()],
        alg: text_field("alg")?,
        kid: text_field("kid")?,
        zip: text_field("zip")?,
        payload: b64(payload, "the payload")?,
        signature: b64(signature, "the signature")?,
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum InflateFailure {
    Corrupt(String),
    TooLarge,
}

/// Raw DEFLATE, capped at [`MAX_INFLATED`] like the zlib of DCCs and our own codes.
pub fn inflate_raw(data: &[u8]) -> Result<Vec<u8>, InflateFailure> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| InflateFailure::Corrupt(e.to_string()))?;
    if out.len() > MAX_INFLATED { Err(InflateFailure::TooLarge) } else { Ok(out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn splits_and_decodes() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"zip":"DEF","alg":"ES256","kid":"k"}"#);
        let text = format!("{header}.AQI.AwQ");
        let jws = parse(&text).unwrap();
        assert_eq!(
            (jws.alg.as_deref(), jws.kid.as_deref(), jws.zip.as_deref()),
            (Some("ES256"), Some("k"), Some("DEF"))
        );
        assert_eq!((jws.payload, jws.signature), (vec![1, 2], vec![3, 4]));
        assert_eq!(jws.signing_input, format!("{header}.AQI"));
        assert!(parse("a.b").is_err());
        assert!(parse("a.b.c.d").is_err());
        assert!(parse(&format!("{header}.AQI=.AwQ")).is_err());
        let crit = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","crit":["x"]}"#);
        assert!(parse(&format!("{crit}.AQI.AwQ")).is_err());
        let numeric_kid = URL_SAFE_NO_PAD.encode(br#"{"kid":7}"#);
        assert!(parse(&format!("{numeric_kid}.AQI.AwQ")).is_err());
    }

    #[test]
    fn raw_deflate_is_capped() {
        assert_eq!(inflate_raw(&deflate(b"hello")).unwrap(), b"hello");
        assert_eq!(inflate_raw(&deflate(&vec![0; MAX_INFLATED * 8])), Err(InflateFailure::TooLarge));
        assert!(matches!(inflate_raw(&[0xff, 0xff]), Err(InflateFailure::Corrupt(_))));
    }
}
