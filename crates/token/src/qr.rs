//! QR codes: rendering a token (PNG, SVG) and reading one back from a photo or screenshot.

use std::io::Cursor;

use qrcode::{EcLevel, QrCode};

/// Pixels per module and quiet-zone modules of rendered codes.
const SCALE: usize = 8;
const QUIET: usize = 4;
/// Largest image accepted for decoding (pixels): a 48-megapixel photo.
const MAX_PIXELS: u64 = 48_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("the text does not fit a QR code: {0}")]
    TooLong(String),
    #[error("not a PNG or JPEG image")]
    UnknownImage,
    #[error("the image could not be read: {0}")]
    Unreadable(String),
    #[error("the image is too large ({0} pixels)")]
    TooLarge(u64),
    #[error("no QR code found in the image")]
    NotFound,
    #[error("a QR code was found but could not be decoded: {0}")]
    Undecodable(String),
}

impl QrError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong(_) => "qr_too_long",
            Self::UnknownImage => "image_format",
            Self::Unreadable(_) => "image_unreadable",
            Self::TooLarge(_) => "image_too_large",
            Self::NotFound => "qr_not_found",
            Self::Undecodable(_) => "qr_undecodable",
        }
    }
}

/// A QR code at error correction M (readable with 15 % of it damaged or covered).
pub struct Qr {
    code: QrCode,
}

impl Qr {
    pub fn new(text: &str) -> Result<Self, QrError> {
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map(|code| Self { code })
            .map_err(|e| QrError::TooLong(e.to_string()))
    }

    /// The QR version (1–40): 10 or below keeps a phone code easy to scan.
    pub fn version(&self) -> i16 {
        match self.code.version() {
            qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
        }
    }

    /// Modules per side.
    pub fn width(&self) -> usize {
        self.code.width()
    }

    fn dark(&self) -> Vec<bool> {
        self.code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect()
    }

    /// A greyscale PNG, 8 pixels per module, with a 4-module quiet zone.
    pub fn png(&self) -> Vec<u8> {
        let w = self.width();
        let dark = self.dark();
        let side = (w + 2 * QUIET) * SCALE;
        let mut pixels = vec![255u8; side * side];
        for y in 0..w {
            for x in 0..w {
                if dark[y * w + x] {
                    for dy in 0..SCALE {
                        let row = ((y + QUIET) * SCALE + dy) * side;
                        let start = row + (x + QUIET) * SCALE;
                        pixels[start..start + SCALE].fill(0);
                    }
                }
            }
        }
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().expect("writing to a Vec");
            writer.write_image_data(&pixels).expect("writing to a Vec");
        }
        out
    }

    /// An SVG with one path, scalable to any size.
    pub fn svg(&self) -> String {
        let w = self.width();
        let dark = self.dark();
        let side = w + 2 * QUIET;
        let mut path = String::new();
        for y in 0..w {
            for x in 0..w {
                if dark[y * w + x] {
                    path.push_str(&format!("M{} {}h1v1h-1z", x + QUIET, y + QUIET));
                }
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
        )
    }
}

/// Greyscale pixels of a PNG or JPEG.
fn luma(bytes: &[u8]) -> Result<(usize, usize, Vec<u8>), QrError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let mut decoder = png::Decoder::new(Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| QrError::Unreadable(e.to_string()))?;
        let (w, h) = (reader.info().width as u64, reader.info().height as u64);
        if w * h > MAX_PIXELS {
            return Err(QrError::TooLarge(w * h));
        }
        let mut buf = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut buf).map_err(|e| QrError::Unreadable(e.to_string()))?;
        let data = &buf[..frame.buffer_size()];
        let channels = frame.color_type.samples();
        let grey = data
            .chunks(channels)
            .map(|px| match channels {
                1 | 2 => px[0],
                _ => ((u16::from(px[0]) * 77 + u16::from(px[1]) * 150 + u16::from(px[2]) * 29) >> 8) as u8,
            })
            .collect::<Vec<_>>();
        // Transparent pixels count as white: QR images often have a transparent background.
        let grey = if channels == 2 || channels == 4 {
            grey.iter()
                .zip(data.chunks(channels))
                .map(|(&g, px)| if px[channels - 1] < 128 { 255 } else { g })
                .collect()
        } else {
            grey
        };
        Ok((frame.width as usize, frame.height as usize, grey))
    } else if bytes.starts_with(&[0xff, 0xd8]) {
        let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        decoder.read_info().map_err(|e| QrError::Unreadable(e.to_string()))?;
        let info = decoder.info().ok_or_else(|| QrError::Unreadable("no JPEG header".into()))?;
        let (w, h) = (u64::from(info.width), u64::from(info.height));
        if w * h > MAX_PIXELS {
            return Err(QrError::TooLarge(w * h));
        }
        let data = decoder.decode().map_err(|e| QrError::Unreadable(e.to_string()))?;
        let grey = match info.pixel_format {
            jpeg_decoder::PixelFormat::L8 => data,
            jpeg_decoder::PixelFormat::L16 => data.chunks(2).map(|p| p[0]).collect(),
            jpeg_decoder::PixelFormat::RGB24 => data
                .chunks(3)
                .map(|p| ((u16::from(p[0]) * 77 + u16::from(p[1]) * 150 + u16::from(p[2]) * 29) >> 8) as u8)
                .collect(),
            jpeg_decoder::PixelFormat::CMYK32 => data.chunks(4).map(|p| 255 - p[3]).collect(),
        };
        Ok((w as usize, h as usize, grey))
    } else {
        Err(QrError::UnknownImage)
    }
}

/// Reads the text of the first QR code found in a PNG or JPEG image.
pub fn decode_image(bytes: &[u8]) -> Result<String, QrError> {
    let (w, h, grey) = luma(bytes)?;
    // A photo's sensor noise and JPEG blocks can make a module read wrong often enough that
    // error correction gives up (about one photo in twenty in our tests); read again with each
    // pixel averaged with its neighbours, as phone scanners retry. The first error is the one
    // reported.
    read_grey(w, h, &grey).or_else(|first| read_grey(w, h, &smoothed(w, h, &grey)).map_err(|_| first))
}

/// The text of the first QR code found in a greyscale image that decodes.
fn read_grey(w: usize, h: usize, grey: &[u8]) -> Result<String, QrError> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| grey[y * w + x]);
    let mut error = QrError::NotFound;
    for grid in img.detect_grids() {
        match grid.decode() {
            Ok((_, text)) => return Ok(text),
            Err(e) => error = QrError::Undecodable(e.to_string()),
        }
    }
    Err(error)
}

/// Each pixel replaced by the mean of the 3×3 pixels around it (fewer at the edges).
fn smoothed(w: usize, h: usize, grey: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; grey.len()];
    for y in 0..h {
        for x in 0..w {
            let (mut sum, mut n) = (0u32, 0u32);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    sum += u32::from(grey[yy * w + xx]);
                    n += 1;
                }
            }
            out[y * w + x] = (sum / n) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_reads_back() {
        let text = "JKM1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0BGJLFX3R3VHXK.PJ:2DPF6R:5SVBHABVCNN95SWMPHQUHQN%A0SOE+QQAB-HQ/HQ7IR.SQEEOK9SAI4- 7Y15KBPD34  QWSP0WRGTQFNPLIR.KQNA7N95U/3FJCTG90OARH9P1J4HGZJKBEG%123ZC$0BCI757TLXKIBTV5TN%2LXK-$CH4TSXKZ4S/$K%0KPQ1HEP9.PZE9Q$95:UENEUW6646936HRTO$9KZ56DE/.QC$Q3J62:6LZ6O59++9-G9+E93ZM$96TV6NRNJZ0*[...]";
        let qr = Qr::new(text).unwrap();
        let png = qr.png();
        assert_eq!(decode_image(&png).unwrap(), text);
        assert!(qr.svg().starts_with("<svg"));
    }

    #[test]
    fn garbage_images_have_their_own_errors() {
        assert_eq!(decode_image(b"hello"), Err(QrError::UnknownImage));
        assert!(matches!(decode_image(b"\x89PNG\r\n\x1a\nbroken"), Err(QrError::Unreadable(_))));
        let blank = {
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, 64, 64);
            enc.set_color(png::ColorType::Grayscale);
            enc.write_header().unwrap().write_image_data(&[255u8; 64 * 64]).unwrap();
            out
        };
        assert_eq!(decode_image(&blank), Err(QrError::NotFound));
    }
}
