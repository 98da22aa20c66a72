//! A silent AAC-LC track. vidgate has no audio model, and an AAC encoder would mean the FDK
//! library (non-free in Debian); a hand-built silent frame decodes everywhere and makes the
//! track's presence honest about what `audio_generation` asked for.

pub const SAMPLE_RATE: u32 = 48_000;
pub const SAMPLES_PER_FRAME: u32 = 1024;

/// One ADTS-wrapped AAC-LC mono frame of silence (1024 samples at 48 kHz): a single channel
/// element with global gain 160 and no scale-factor bands, then END.
pub fn silent_adts_frame() -> Vec<u8> {
    let raw: [u8; 4] = [0x01, 0x40, 0x20, 0x07];
    let len = raw.len() + 7;
    let (profile, sf_index, channels) = (1u8, 3u8, 1u8); // LC (object type 2 − 1), 48 kHz, mono
    let header = [
        0xFF,
        0xF1, // sync word, MPEG-4, layer 0, no CRC
        (profile << 6) | (sf_index << 2) | ((channels >> 2) & 1),
        ((channels & 3) << 6) | ((len >> 11) as u8 & 0x03),
        ((len >> 3) & 0xFF) as u8,
        (((len & 7) as u8) << 5) | 0x1F,
        0xFC,
    ];
    [&header[..], &raw[..]].concat()
}
