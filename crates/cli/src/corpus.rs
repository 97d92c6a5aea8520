//! `saex corpus build`: the multi-category JSONL corpus from Debian text packages.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

/// `saex corpus ...`
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Build corpus.jsonl and its manifest from the packages scripts/fetch-corpus.sh unpacked.
    Build(BuildArgs),
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Where scripts/fetch-corpus.sh unpacked the packages.
    #[arg(long, env = "SAEX_CORPUS_SRC")]
    src: PathBuf,
    /// The model whose tokenizer counts tokens (only the tokenizer is loaded).
    #[arg(long)]
    model: String,
    /// Output JSONL: one {"text", "category", "source"} per line.
    #[arg(long)]
    out: PathBuf,
    /// Output manifest (JSON); default: OUT with .manifest.json.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Seed of every shuffle (same seed, same corpus).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Most tokens per chunk.
    #[arg(long, default_value_t = 128)]
    chunk_tokens: usize,
    /// Chunks with fewer tokens are dropped.
    #[arg(long, default_value_t = 8)]
    min_tokens: usize,
    /// Tokens per category at most.
    #[arg(long, default_value_t = 1_000_000)]
    max_tokens_per_category: usize,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let Command::Build(a) = args.command;
    let tok = saex_model::load::tokenizer(&a.model)?;
    let count = |s: &str| tok.encode(s, false).map(|v| v.len()).unwrap_or(usize::MAX);
    let opts = saex_corpus::BuildOptions {
        seed: a.seed,
        chunk_tokens: a.chunk_tokens,
        min_tokens: a.min_tokens,
        max_tokens_per_category: a.max_tokens_per_category,
    };
    let (lines, manifest) = saex_corpus::build(&a.src, &a.model, &count, opts)?;
    let manifest_path = a.manifest.clone().unwrap_or_else(|| a.out.with_extension("manifest.json"));
    // Written next to the target and renamed: an interrupted build leaves no half corpus.
    let tmp = a.out.with_extension("jsonl.partial");
    {
        let f = std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?;
        let mut w = std::io::BufWriter::new(f);
        for l in &lines {
            serde_json::to_writer(&mut w, l)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    std::fs::rename(&tmp, &a.out).with_context(|| format!("{}", a.out.display()))?;
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest)? + "\n")
        .with_context(|| format!("{}", manifest_path.display()))?;
    writeln!(out, "{:<16} {:>8} {:>10} {:>6}", "category", "chunks", "tokens", "dups")?;
    for (c, s) in &manifest.categories {
        writeln!(out, "{c:<16} {:>8} {:>10} {:>6}", s.chunks, s.tokens, s.duplicates)?;
    }
    writeln!(out, "{:<16} {:>8} {:>10}", "total", manifest.total_chunks, manifest.total_tokens)?;
    writeln!(out, "wrote {} and {}", a.out.display(), manifest_path.display())?;
    Ok(())
}
