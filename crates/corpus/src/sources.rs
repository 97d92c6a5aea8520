//! Where each category's text comes from: one tested table keyed by Debian package, so every
//! corpus line can name its package and license (no guessing from file names across
//! packages: each package is unpacked into its own folder by `scripts/fetch-corpus.sh`).

/// How a file becomes documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// `fortune(6)` files: entries separated by lines holding only `%`.
    Fortune,
    /// `fortune` files with ANSI colour codes to strip (fortunes-zh).
    FortuneAnsi,
    /// A whole file is one document (plain text, possibly gzipped; HTML; TeX; Python).
    Whole,
}

/// One source of text.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// Corpus category.
    pub category: &'static str,
    /// Debian package (its folder under the source directory).
    pub package: &'static str,
    /// Folder inside the package to read.
    pub dir: &'static str,
    /// Read sub-folders too.
    pub recursive: bool,
    /// Keep files whose name ends with one of these (empty: all).
    pub suffixes: &'static [&'static str],
    /// Keep only these file names (empty: all).
    pub names: &'static [&'static str],
    /// Leave out these file names (ASCII-art collections: pictures, not language).
    pub exclude: &'static [&'static str],
    /// How to read the files.
    pub reader: Reader,
    /// The package's license for this text.
    pub license: &'static str,
}

const FORTUNES: &str = "usr/share/games/fortunes";

/// Every source, in category order.
pub const SOURCES: &[Source] = &[
    Source {
        category: "english-casual",
        package: "fortunes",
        dir: FORTUNES,
        recursive: false,
        suffixes: &[],
        names: &[],
        exclude: &["art", "ascii-art"],
        reader: Reader::Fortune,
        license: "BSD-4-clause",
    },
    Source {
        category: "english-casual",
        package: "fortunes-min",
        dir: FORTUNES,
        recursive: false,
        suffixes: &[],
        names: &[],
        exclude: &[],
        reader: Reader::Fortune,
        license: "BSD-4-clause",
    },
    Source {
        category: "german",
        package: "fortunes-de",
        dir: "usr/share/games/fortunes/de",
        recursive: false,
        suffixes: &[],
        names: &[],
        exclude: &["asciiart", "asciiart.u8"],
        reader: Reader::Fortune,
        license: "GPL-2+",
    },
    Source {
        category: "spanish",
        package: "fortunes-es",
        dir: "usr/share/games/fortunes/es",
        recursive: false,
        suffixes: &[],
        names: &[],
        exclude: &[],
        reader: Reader::Fortune,
        license: "GPL-2+",
    },
    Source {
        category: "italian",
        package: "fortunes-it",
        dir: "usr/share/games/fortunes/it",
        recursive: false,
        suffixes: &[],
        names: &[],
        exclude: &[],
        reader: Reader::Fortune,
        license: "public-domain",
    },
    Source {
        category: "russian",
        package: "fortunes-ru",
        dir: "usr/share/games/fortunes/ru",
        recursive: false,
        suffixes: &[],
        names: &[],
        exclude: &[],
        reader: Reader::Fortune,
        license: "GPL-2",
    },
    Source {
        category: "chinese",
        package: "fortunes-zh",
        dir: FORTUNES,
        recursive: false,
        suffixes: &[],
        names: &["chinese", "tang300", "song100"],
        exclude: &[],
        reader: Reader::FortuneAnsi,
        license: "GPL-3+",
    },
    Source {
        category: "portuguese",
        package: "fortunes-mario",
        dir: FORTUNES,
        recursive: false,
        suffixes: &[],
        names: &[],
        exclude: &["mario.arteascii"],
        reader: Reader::Fortune,
        license: "GPL-2",
    },
    Source {
        category: "legal-formal",
        package: "debian-policy",
        dir: "usr/share/doc/debian-policy",
        recursive: false,
        suffixes: &[".txt.gz"],
        names: &[],
        exclude: &[],
        reader: Reader::Whole,
        license: "GPL-2+",
    },
    Source {
        category: "legal-formal",
        package: "doc-debian",
        dir: "usr/share/doc/debian",
        recursive: false,
        suffixes: &[".txt.gz", ".txt", "manifesto.gz"],
        names: &[],
        exclude: &[],
        reader: Reader::Whole,
        license: "GPL-2+ / OPL (see package copyright)",
    },
    Source {
        category: "legal-formal",
        package: "base-files",
        dir: "usr/share/common-licenses",
        recursive: false,
        suffixes: &[],
        names: &[],
        exclude: &[],
        reader: Reader::Whole,
        license: "verbatim copying permitted (license texts)",
    },
    Source {
        category: "web-html",
        package: "python3.11-doc",
        dir: "usr/share/doc/python3.11/html",
        recursive: true,
        suffixes: &[".html"],
        names: &[],
        exclude: &[],
        reader: Reader::Whole,
        license: "PSF-2.0",
    },
    Source {
        category: "latex-math",
        package: "texlive-latex-base-doc",
        dir: "usr/share/doc/texlive-doc",
        recursive: true,
        suffixes: &[".tex", ".tex.gz"],
        names: &[],
        exclude: &[],
        reader: Reader::Whole,
        license: "LPPL-1.3c",
    },
    Source {
        category: "code",
        package: "libpython3.11-stdlib",
        dir: "usr/lib/python3.11",
        recursive: true,
        suffixes: &[".py"],
        names: &[],
        exclude: &[],
        reader: Reader::Whole,
        license: "PSF-2.0",
    },
];

/// The categories, in table order, without repeats.
pub fn categories() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for s in SOURCES {
        if !out.contains(&s.category) {
            out.push(s.category);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_categories_are_all_there() {
        assert_eq!(
            categories(),
            [
                "english-casual",
                "german",
                "spanish",
                "italian",
                "russian",
                "chinese",
                "portuguese",
                "legal-formal",
                "web-html",
                "latex-math",
                "code"
            ]
        );
    }
}
