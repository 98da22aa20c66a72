//! Text on video: an embedded font (DejaVu Sans, so no system font is needed and output does
//! not depend on the machine), greedy word wrapping that also breaks words too long for a
//! line, shrink-to-fit, and an ellipsis when even the smallest size cannot hold everything.
//! Characters the font lacks (Chinese, emoji, …) are drawn as a visible placeholder box
//! rather than dropped, so the viewer can tell text was there.

use std::collections::HashMap;
use std::sync::OnceLock;

use fontdue::{Font, FontSettings, Metrics};

use crate::{Rgb, Sprite};

static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// Stands in for characters the font has no glyph for (U+25A1 WHITE SQUARE, which it has).
pub const PLACEHOLDER: char = '\u{25A1}';
const ELLIPSIS: char = '\u{2026}';

fn font() -> &'static Font {
    static FONT: OnceLock<Font> = OnceLock::new();
    FONT.get_or_init(|| {
        // The bytes are part of this crate and are tested to parse; failing here is a build bug.
        Font::from_bytes(FONT_BYTES, FontSettings::default()).expect("the embedded font parses")
    })
}

/// The text as the font can draw it: control characters dropped (newlines kept), tabs as
/// spaces, and characters without a glyph replaced by `PLACEHOLDER`.
pub fn displayable(text: &str) -> String {
    let f = font();
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            c if c.is_whitespace() => Some(' '),
            c if f.lookup_glyph_index(c) == 0 => Some(PLACEHOLDER),
            c => Some(c),
        })
        .collect()
}

fn advance(c: char, px: f32) -> f32 {
    font().metrics(c, px).advance_width
}

/// Width of one line of displayable text at `px`.
pub fn line_width(line: &str, px: f32) -> f32 {
    line.chars().map(|c| advance(c, px)).sum()
}

/// Height of one line (ascent to descent plus the font's gap) at `px`.
pub fn line_height(px: f32) -> f32 {
    font().horizontal_line_metrics(px).map(|m| m.new_line_size).unwrap_or(px * 1.2)
}

/// Wraps displayable text to lines no wider than `max_width`, at most `max_lines` of them.
/// Returns the lines and whether everything fit (if not, the last line ends in "…").
pub fn wrap(text: &str, px: f32, max_width: f32, max_lines: usize) -> (Vec<String>, bool) {
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut width = 0.0;
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let w = line_width(word, px);
            let space = if line.is_empty() { 0.0 } else { advance(' ', px) };
            if width + space + w <= max_width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
                width += space + w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                width = 0.0;
            }
            // A word wider than a whole line is broken between characters (also how text
            // without spaces, such as Chinese, wraps).
            for c in word.chars() {
                let cw = advance(c, px);
                if width + cw > max_width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    width = 0.0;
                }
                line.push(c);
                width += cw;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    if lines.len() <= max_lines {
        return (lines, true);
    }
    lines.truncate(max_lines.max(1));
    if let Some(last) = lines.last_mut() {
        while !last.is_empty() && line_width(last, px) + advance(ELLIPSIS, px) > max_width {
            last.pop();
        }
        let trimmed = last.trim_end().len();
        last.truncate(trimmed);
        last.push(ELLIPSIS);
    }
    (lines, false)
}

/// Text laid out to fit a box: the largest size from `max_px` down to `min_px` at which it
/// all fits, else `min_px` with as many lines as fit and an ellipsis.
pub struct TextBlock {
    pub px: f32,
    pub lines: Vec<String>,
}

impl TextBlock {
    pub fn fit(text: &str, max_px: f32, min_px: f32, max_width: f32, max_height: f32) -> Self {
        let text = displayable(text);
        let min_px = min_px.max(4.0);
        let mut px = max_px.max(min_px);
        loop {
            let max_lines = (max_height / line_height(px)).floor().max(1.0) as usize;
            let (lines, all) = wrap(&text, px, max_width, max_lines);
            if all || px <= min_px {
                return TextBlock { px, lines };
            }
            px = (px * 0.85).max(min_px);
        }
    }

    pub fn width(&self) -> f32 {
        self.lines.iter().map(|l| line_width(l, self.px)).fold(0.0, f32::max)
    }

    pub fn height(&self) -> f32 {
        line_height(self.px) * self.lines.len() as f32
    }

    /// Draws the block with its top-left corner at (`x`, `y`); `centered` centres each line
    /// within the block's width.
    pub fn draw(&self, sprite: &mut Sprite, x: f32, y: f32, color: Rgb, centered: bool) {
        let f = font();
        let ascent = f.horizontal_line_metrics(self.px).map(|m| m.ascent).unwrap_or(self.px);
        let block_w = self.width();
        let mut glyphs: HashMap<char, (Metrics, Vec<u8>)> = HashMap::new();
        for (i, line) in self.lines.iter().enumerate() {
            let baseline = y + ascent + i as f32 * line_height(self.px);
            let mut pen =
                if centered { x + (block_w - line_width(line, self.px)) / 2.0 } else { x };
            for c in line.chars() {
                let (m, bitmap) = glyphs.entry(c).or_insert_with(|| f.rasterize(c, self.px));
                let gx = (pen + m.xmin as f32).round() as i64;
                let gy = (baseline - m.height as f32 - m.ymin as f32).round() as i64;
                sprite.blend_mask(gx, gy, bitmap, m.width, color);
                pen += m.advance_width;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_parses_and_has_the_placeholder() {
        assert_ne!(font().lookup_glyph_index('A'), 0);
        assert_ne!(font().lookup_glyph_index(PLACEHOLDER), 0);
        assert_ne!(font().lookup_glyph_index(ELLIPSIS), 0);
    }

    #[test]
    fn missing_glyphs_become_placeholders_and_controls_vanish() {
        assert_eq!(displayable("a\u{7}b\tc\nd"), "ab c\nd");
        assert_eq!(displayable("猫 cat"), format!("{PLACEHOLDER} cat"));
        assert_eq!(displayable("Ça va, Ωμέγα"), "Ça va, Ωμέγα");
    }

    #[test]
    fn lines_never_exceed_the_width_and_long_words_break() {
        let px = 20.0;
        let text = format!("a lighthouse on a cliff {} at dusk", "x".repeat(80));
        let (lines, all) = wrap(&text, px, 200.0, 100);
        assert!(all);
        assert!(lines.len() > 3, "{lines:?}");
        for l in &lines {
            assert!(line_width(l, px) <= 200.0, "{l:?}");
        }
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn text_that_cannot_fit_ends_in_an_ellipsis() {
        let long = "word ".repeat(500);
        let block = TextBlock::fit(&long, 40.0, 10.0, 300.0, 60.0);
        assert_eq!(block.px, 10.0);
        assert!(block.height() <= 60.0 + 0.01);
        assert!(block.lines.last().unwrap().ends_with(ELLIPSIS));
        let short = TextBlock::fit("hello", 40.0, 10.0, 300.0, 60.0);
        assert_eq!(short.px, 40.0);
        assert_eq!(short.lines, vec!["hello"]);
    }

    #[test]
    fn degenerate_boxes_do_not_panic() {
        for (w, h) in [(0.0, 0.0), (1.0, 1.0), (-5.0, 10.0), (f32::NAN, 5.0)] {
            let b = TextBlock::fit("猫猫 a b c", 12.0, 1.0, w, h);
            let mut s = Sprite::new(4, 4);
            b.draw(&mut s, -3.0, -3.0, Rgb(255, 255, 255), true);
        }
        assert!(TextBlock::fit("", 12.0, 6.0, 100.0, 100.0).lines.is_empty());
    }

    #[test]
    fn drawn_text_marks_pixels() {
        let block = TextBlock::fit("HI", 30.0, 10.0, 200.0, 100.0);
        let mut s = Sprite::new(100, 50);
        block.draw(&mut s, 5.0, 5.0, Rgb(255, 255, 255), false);
        let inked = (0..100).flat_map(|x| (0..50).map(move |y| (x, y)));
        assert!(inked.filter(|(x, y)| s.get(*x, *y).unwrap()[3] > 200).count() > 50);
    }
}
