//! The index on disk: one Hive-style folder per SAE (`sae=<name>/`) of Parquet tables, rows
//! sorted by feature, one row group per block of features, so `read_parquet('DIR/*/x.parquet',
//! hive_partitioning = true)` works as is in DuckDB, Polars and Spark, and a query for one
//! feature reads one row group of each table.
//!
//! | table | one row per |
//! |---|---|
//! | `features.parquet` | feature: firing count and rate, mean, mean over nonzero, max, P95 |
//! | `histogram.parquet` | (feature, bar): `lo`, `hi`, `count` |
//! | `categories.parquet` | (feature, category): `count`, `tokens` |
//! | `examples.parquet` | (feature, example): `kind` top/quantile, `rank`, `bin`, `act`, `doc`, `category`, `position`, `peak`, `tokens`, `acts` |
//! | `logits.parquet` | (feature, token): `kind` boosted/suppressed, `rank`, `token_id`, `token`, `value` |

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, Float32Array, Float64Array, ListArray, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;

use crate::error::{Error, Result};
use crate::record::{CategoryCount, FeatureRecord, HistBin, IndexedExample, LogitTokens, QuantileGroup, Stats, TokenValue};

/// Features per row group.
pub const FEATURES_PER_GROUP: usize = 32;

fn pq_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::file(path, format!("not a readable Parquet table ({e})"))
}

fn arrow_err(e: arrow_schema::ArrowError) -> Error {
    Error::Invalid(format!("building a table: {e}"))
}

fn field(name: &str, t: DataType, nullable: bool) -> Field {
    Field::new(name, t, nullable)
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", t, true)))
}

/// Writes one table in feature blocks.
struct Table {
    writer: ArrowWriter<File>,
    schema: Arc<Schema>,
}

impl Table {
    fn create(path: &Path, fields: Vec<Field>) -> Result<Table> {
        let schema = Arc::new(Schema::new(fields));
        let file = File::create(path).map_err(|e| Error::file(path, e))?;
        let props = WriterProperties::builder().set_compression(Compression::SNAPPY).set_max_row_group_row_count(None).build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(pq_err(path))?;
        Ok(Table { writer, schema })
    }

    /// Write one block's columns as one row group.
    fn block(&mut self, path: &Path, columns: Vec<ArrayRef>) -> Result<()> {
        if columns.first().is_none_or(|c| c.is_empty()) {
            return Ok(());
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(arrow_err)?;
        self.writer.write(&batch).map_err(pq_err(path))?;
        self.writer.flush().map_err(pq_err(path))
    }

    fn close(self, path: &Path) -> Result<()> {
        self.writer.close().map_err(pq_err(path))?;
        Ok(())
    }
}

/// Write the tables of one SAE into `dir` (which exists), from its records in feature
/// order. `logits`: whether any record carries logit tokens (the table is written then).
pub fn write_tables(dir: &Path, records: &[FeatureRecord]) -> Result<Vec<String>> {
    let u32t = DataType::UInt32;
    let p = |n: &str| dir.join(n);
    let mut features = Table::create(
        &p("features.parquet"),
        vec![
            field("feature", u32t.clone(), false),
            field("firing_count", DataType::UInt64, false),
            field("firing_rate", DataType::Float64, false),
            field("mean", DataType::Float32, false),
            field("mean_nonzero", DataType::Float32, false),
            field("max", DataType::Float32, false),
            field("p95", DataType::Float32, false),
            field("n_tokens", DataType::UInt64, false),
        ],
    )?;
    let mut hist = Table::create(
        &p("histogram.parquet"),
        vec![
            field("feature", u32t.clone(), false),
            field("lo", DataType::Float32, false),
            field("hi", DataType::Float32, true),
            field("count", DataType::UInt64, false),
        ],
    )?;
    let mut cats = Table::create(
        &p("categories.parquet"),
        vec![
            field("feature", u32t.clone(), false),
            field("category", DataType::Utf8, false),
            field("count", DataType::UInt64, false),
            field("tokens", DataType::UInt64, false),
        ],
    )?;
    let mut examples = Table::create(
        &p("examples.parquet"),
        vec![
            field("feature", u32t.clone(), false),
            field("kind", DataType::Utf8, false),
            field("rank", u32t.clone(), false),
            field("bin", u32t.clone(), true),
            field("bin_lo", DataType::Float32, true),
            field("bin_hi", DataType::Float32, true),
            field("act", DataType::Float32, false),
            field("doc", DataType::UInt64, false),
            field("category", DataType::Utf8, false),
            field("position", u32t.clone(), false),
            field("peak", u32t.clone(), false),
            field("tokens", list_of(DataType::Utf8), false),
            field("acts", list_of(DataType::Float32), false),
        ],
    )?;
    let with_logits = records.iter().any(|r| r.logits.is_some());
    let mut logits = if with_logits {
        Some(Table::create(
            &p("logits.parquet"),
            vec![
                field("feature", u32t.clone(), false),
                field("kind", DataType::Utf8, false),
                field("rank", u32t.clone(), false),
                field("token_id", u32t.clone(), false),
                field("token", DataType::Utf8, false),
                field("value", DataType::Float32, false),
            ],
        )?)
    } else {
        None
    };
    for block in records.chunks(FEATURES_PER_GROUP) {
        // features
        let st = |g: fn(&Stats) -> f32| Arc::new(Float32Array::from(block.iter().map(|r| g(&r.stats)).collect::<Vec<_>>())) as ArrayRef;
        features.block(
            &p("features.parquet"),
            vec![
                Arc::new(UInt32Array::from(block.iter().map(|r| r.feature_id).collect::<Vec<_>>())),
                Arc::new(UInt64Array::from(block.iter().map(|r| r.stats.firing_count).collect::<Vec<_>>())),
                Arc::new(Float64Array::from(block.iter().map(|r| r.stats.firing_rate).collect::<Vec<_>>())),
                st(|s| s.mean),
                st(|s| s.mean_nonzero),
                st(|s| s.max),
                st(|s| s.p95),
                Arc::new(UInt64Array::from(block.iter().map(|r| r.stats.n_tokens).collect::<Vec<_>>())),
            ],
        )?;
        // histogram
        let rows: Vec<(u32, &HistBin)> = block.iter().flat_map(|r| r.histogram.iter().map(move |b| (r.feature_id, b))).collect();
        hist.block(
            &p("histogram.parquet"),
            vec![
                Arc::new(UInt32Array::from(rows.iter().map(|x| x.0).collect::<Vec<_>>())),
                Arc::new(Float32Array::from(rows.iter().map(|x| x.1.lo).collect::<Vec<_>>())),
                Arc::new(Float32Array::from(rows.iter().map(|x| x.1.hi).collect::<Vec<_>>())),
                Arc::new(UInt64Array::from(rows.iter().map(|x| x.1.count).collect::<Vec<_>>())),
            ],
        )?;
        // categories (only where the feature fires)
        let rows: Vec<(u32, &CategoryCount)> =
            block.iter().flat_map(|r| r.categories.iter().filter(|c| c.count > 0).map(move |c| (r.feature_id, c))).collect();
        cats.block(
            &p("categories.parquet"),
            vec![
                Arc::new(UInt32Array::from(rows.iter().map(|x| x.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|x| x.1.category.as_str()).collect::<Vec<_>>())),
                Arc::new(UInt64Array::from(rows.iter().map(|x| x.1.count).collect::<Vec<_>>())),
                Arc::new(UInt64Array::from(rows.iter().map(|x| x.1.tokens).collect::<Vec<_>>())),
            ],
        )?;
        // examples
        struct Row<'a> {
            f: u32,
            kind: &'static str,
            rank: u32,
            group: Option<&'a QuantileGroup>,
            e: &'a IndexedExample,
        }
        let mut rows: Vec<Row> = Vec::new();
        for r in block {
            rows.extend(r.top.iter().enumerate().map(|(i, e)| Row { f: r.feature_id, kind: "top", rank: i as u32, group: None, e }));
            for g in &r.quantiles {
                rows.extend(g.examples.iter().enumerate().map(|(i, e)| Row {
                    f: r.feature_id,
                    kind: "quantile",
                    rank: i as u32,
                    group: Some(g),
                    e,
                }));
            }
        }
        let mut tokens = ListBuilder::new(StringBuilder::new());
        let mut acts = ListBuilder::new(Float32Builder::new());
        for r in &rows {
            for t in &r.e.tokens {
                tokens.values().append_value(t);
            }
            tokens.append(true);
            acts.values().append_slice(&r.e.acts);
            acts.append(true);
        }
        examples.block(
            &p("examples.parquet"),
            vec![
                Arc::new(UInt32Array::from(rows.iter().map(|r| r.f).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.kind).collect::<Vec<_>>())),
                Arc::new(UInt32Array::from(rows.iter().map(|r| r.rank).collect::<Vec<_>>())),
                Arc::new(UInt32Array::from(rows.iter().map(|r| r.group.map(|g| g.bin)).collect::<Vec<_>>())),
                Arc::new(Float32Array::from(rows.iter().map(|r| r.group.map(|g| g.lo)).collect::<Vec<_>>())),
                Arc::new(Float32Array::from(rows.iter().map(|r| r.group.map(|g| g.hi)).collect::<Vec<_>>())),
                Arc::new(Float32Array::from(rows.iter().map(|r| r.e.act).collect::<Vec<_>>())),
                Arc::new(UInt64Array::from(rows.iter().map(|r| r.e.doc).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.e.category.as_str()).collect::<Vec<_>>())),
                Arc::new(UInt32Array::from(rows.iter().map(|r| r.e.position).collect::<Vec<_>>())),
                Arc::new(UInt32Array::from(rows.iter().map(|r| r.e.peak).collect::<Vec<_>>())),
                Arc::new(tokens.finish()),
                Arc::new(acts.finish()),
            ],
        )?;
        // logits
        if let Some(t) = logits.as_mut() {
            let rows: Vec<(u32, &'static str, u32, &TokenValue)> = block
                .iter()
                .filter_map(|r| r.logits.as_ref().map(|l| (r.feature_id, l)))
                .flat_map(|(f, l)| {
                    let b = l.boosted.iter().enumerate().map(move |(i, v)| (f, "boosted", i as u32, v));
                    let s = l.suppressed.iter().enumerate().map(move |(i, v)| (f, "suppressed", i as u32, v));
                    b.chain(s)
                })
                .collect();
            t.block(
                &p("logits.parquet"),
                vec![
                    Arc::new(UInt32Array::from(rows.iter().map(|x| x.0).collect::<Vec<_>>())),
                    Arc::new(StringArray::from(rows.iter().map(|x| x.1).collect::<Vec<_>>())),
                    Arc::new(UInt32Array::from(rows.iter().map(|x| x.2).collect::<Vec<_>>())),
                    Arc::new(UInt32Array::from(rows.iter().map(|x| x.3.token_id).collect::<Vec<_>>())),
                    Arc::new(StringArray::from(rows.iter().map(|x| x.3.token.as_str()).collect::<Vec<_>>())),
                    Arc::new(Float32Array::from(rows.iter().map(|x| x.3.value).collect::<Vec<_>>())),
                ],
            )?;
        }
    }
    let mut names = vec!["features.parquet", "histogram.parquet", "categories.parquet", "examples.parquet"];
    features.close(&p(names[0]))?;
    hist.close(&p(names[1]))?;
    cats.close(&p(names[2]))?;
    examples.close(&p(names[3]))?;
    if let Some(t) = logits {
        t.close(&p("logits.parquet"))?;
        names.push("logits.parquet");
    }
    Ok(names.into_iter().map(str::to_string).collect())
}

/// The rows of `path` whose `feature` is `f` (reading only the row groups that can hold it).
fn rows_of(path: &Path, f: u32) -> Result<Vec<RecordBatch>> {
    let in_range = |meta: &parquet::file::metadata::ParquetMetaData| {
        (0..meta.num_row_groups())
            .filter(|&g| match meta.row_group(g).column(0).statistics() {
                Some(Statistics::Int32(s)) => {
                    let (lo, hi) = (s.min_opt().map(|&v| v as u32), s.max_opt().map(|&v| v as u32));
                    lo.is_none_or(|lo| lo <= f) && hi.is_none_or(|hi| f <= hi)
                }
                _ => true,
            })
            .collect()
    };
    let mut out = Vec::new();
    for batch in read_batches(path, Some(&in_range))? {
        let col = u32s(&batch, path, "feature")?;
        let keep: arrow_array::BooleanArray = col.iter().map(|v| Some(v == Some(f))).collect();
        let b = arrow_select::filter::filter_record_batch(&batch, &keep).map_err(|e| Error::file(path, e))?;
        if b.num_rows() > 0 {
            out.push(b);
        }
    }
    Ok(out)
}

/// Picks the row groups worth reading from a table's metadata.
type RowGroups<'a> = &'a dyn Fn(&parquet::file::metadata::ParquetMetaData) -> Vec<usize>;

/// The record batches of `path` (of the row groups `groups` picks, or all). The parquet crate
/// panics on some corrupt metadata (a negative column offset, found by fuzzing) instead of
/// returning an error; a damaged index file must be an error naming it, so the read is
/// guarded here, the one place saex reads Parquet.
fn read_batches(path: &Path, groups: Option<RowGroups>) -> Result<Vec<RecordBatch>> {
    let read = || -> Result<Vec<RecordBatch>> {
        let file = File::open(path).map_err(|e| Error::file(path, e))?;
        let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq_err(path))?;
        if let Some(pick) = groups {
            let keep = pick(builder.metadata());
            builder = builder.with_row_groups(keep);
        }
        let reader = builder.build().map_err(pq_err(path))?;
        reader.map(|b| b.map_err(|e| Error::file(path, format!("not a readable Parquet table ({e})")))).collect()
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err(Error::file(path, "not a readable Parquet table (corrupt metadata)")))
}

fn col<'a, T: 'static>(b: &'a RecordBatch, path: &Path, name: &str) -> Result<&'a T> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| Error::file(path, format!("column `{name}` is missing or of another type")))
}

fn u32s<'a>(b: &'a RecordBatch, path: &Path, name: &str) -> Result<&'a UInt32Array> {
    col::<UInt32Array>(b, path, name)
}

fn strings(b: &RecordBatch, path: &Path, name: &str, i: usize) -> Result<Vec<String>> {
    let l = col::<ListArray>(b, path, name)?.value(i);
    let s = l.as_any().downcast_ref::<StringArray>().ok_or_else(|| Error::file(path, format!("`{name}` is not a list of strings")))?;
    Ok((0..s.len()).map(|j| s.value(j).to_string()).collect())
}

fn floats(b: &RecordBatch, path: &Path, name: &str, i: usize) -> Result<Vec<f32>> {
    let l = col::<ListArray>(b, path, name)?.value(i);
    let s = l.as_any().downcast_ref::<Float32Array>().ok_or_else(|| Error::file(path, format!("`{name}` is not a list of floats")))?;
    Ok(s.values().to_vec())
}

/// Feature `f`'s examples (`kind`: `top`, `quantile` or both when `None`).
pub fn read_examples(dir: &Path, f: u32, kind: Option<&str>) -> Result<(Vec<IndexedExample>, Vec<QuantileGroup>)> {
    let path = dir.join("examples.parquet");
    let (mut top, mut groups): (Vec<(u32, IndexedExample)>, Vec<QuantileGroup>) = (Vec::new(), Vec::new());
    for b in rows_of(&path, f)? {
        let kinds = col::<StringArray>(&b, &path, "kind")?;
        let (rank, bin) = (u32s(&b, &path, "rank")?, u32s(&b, &path, "bin")?);
        let (lo, hi, act) =
            (col::<Float32Array>(&b, &path, "bin_lo")?, col::<Float32Array>(&b, &path, "bin_hi")?, col::<Float32Array>(&b, &path, "act")?);
        let (doc, cat) = (col::<UInt64Array>(&b, &path, "doc")?, col::<StringArray>(&b, &path, "category")?);
        let (pos, peak) = (u32s(&b, &path, "position")?, u32s(&b, &path, "peak")?);
        for i in 0..b.num_rows() {
            let k = kinds.value(i);
            if kind.is_some_and(|want| want != k) {
                continue;
            }
            let e = IndexedExample {
                act: act.value(i),
                doc: doc.value(i),
                category: cat.value(i).to_string(),
                position: pos.value(i),
                peak: peak.value(i),
                tokens: strings(&b, &path, "tokens", i)?,
                acts: floats(&b, &path, "acts", i)?,
            };
            if k == "top" {
                top.push((rank.value(i), e));
            } else {
                let g = bin.value(i);
                match groups.iter_mut().find(|x| x.bin == g) {
                    Some(x) => x.examples.push(e),
                    None => groups.push(QuantileGroup { bin: g, lo: lo.value(i), hi: hi.value(i), examples: vec![e] }),
                }
            }
        }
    }
    top.sort_by_key(|x| x.0);
    groups.sort_by_key(|g| g.bin);
    Ok((top.into_iter().map(|x| x.1).collect(), groups))
}

/// Feature `f`'s full record (the caller attaches label and link).
pub fn read_record(dir: &Path, sae_id: &str, f: u32) -> Result<FeatureRecord> {
    let path = dir.join("features.parquet");
    let batches = rows_of(&path, f)?;
    let b = batches.first().ok_or_else(|| Error::file(&path, format!("no row for feature {f}")))?;
    let g32 = |name: &str| -> Result<f32> { Ok(col::<Float32Array>(b, &path, name)?.value(0)) };
    let stats = Stats {
        n_tokens: col::<UInt64Array>(b, &path, "n_tokens")?.value(0),
        firing_count: col::<UInt64Array>(b, &path, "firing_count")?.value(0),
        firing_rate: col::<Float64Array>(b, &path, "firing_rate")?.value(0),
        mean: g32("mean")?,
        mean_nonzero: g32("mean_nonzero")?,
        max: g32("max")?,
        p95: g32("p95")?,
    };
    let hpath = dir.join("histogram.parquet");
    let mut histogram = Vec::new();
    for b in rows_of(&hpath, f)? {
        let (lo, hi, count) =
            (col::<Float32Array>(&b, &hpath, "lo")?, col::<Float32Array>(&b, &hpath, "hi")?, col::<UInt64Array>(&b, &hpath, "count")?);
        for i in 0..b.num_rows() {
            histogram.push(HistBin { lo: lo.value(i), hi: (!hi.is_null(i)).then(|| hi.value(i)), count: count.value(i) });
        }
    }
    let cpath = dir.join("categories.parquet");
    let mut categories = Vec::new();
    for b in rows_of(&cpath, f)? {
        let (name, count, tokens) = (
            col::<StringArray>(&b, &cpath, "category")?,
            col::<UInt64Array>(&b, &cpath, "count")?,
            col::<UInt64Array>(&b, &cpath, "tokens")?,
        );
        for i in 0..b.num_rows() {
            categories.push(CategoryCount { category: name.value(i).to_string(), count: count.value(i), tokens: tokens.value(i) });
        }
    }
    let (top, quantiles) = read_examples(dir, f, None)?;
    let lpath = dir.join("logits.parquet");
    let logits = if lpath.is_file() {
        let mut l = LogitTokens { boosted: Vec::new(), suppressed: Vec::new() };
        for b in rows_of(&lpath, f)? {
            let (kind, id, tok, val) = (
                col::<StringArray>(&b, &lpath, "kind")?,
                u32s(&b, &lpath, "token_id")?,
                col::<StringArray>(&b, &lpath, "token")?,
                col::<Float32Array>(&b, &lpath, "value")?,
            );
            for i in 0..b.num_rows() {
                let v = TokenValue { token_id: id.value(i), token: tok.value(i).to_string(), value: val.value(i) };
                if kind.value(i) == "boosted" {
                    l.boosted.push(v);
                } else {
                    l.suppressed.push(v);
                }
            }
        }
        Some(l)
    } else {
        None
    };
    Ok(FeatureRecord {
        sae_id: sae_id.to_string(),
        feature_id: f,
        stats,
        histogram,
        categories,
        top,
        quantiles,
        logits,
        label: None,
        neuronpedia_url: None,
    })
}

/// Every feature's statistics (for browsing and sorting), in feature order.
pub fn read_all_stats(dir: &Path) -> Result<Vec<(u32, Stats)>> {
    let path = dir.join("features.parquet");
    let mut out = Vec::new();
    for b in read_batches(&path, None)? {
        let f = u32s(&b, &path, "feature")?;
        let g = |n: &str| col::<Float32Array>(&b, &path, n);
        let (mean, mnz, max, p95) = (g("mean")?, g("mean_nonzero")?, g("max")?, g("p95")?);
        let (n, fc, fr) = (
            col::<UInt64Array>(&b, &path, "n_tokens")?,
            col::<UInt64Array>(&b, &path, "firing_count")?,
            col::<Float64Array>(&b, &path, "firing_rate")?,
        );
        for i in 0..b.num_rows() {
            out.push((
                f.value(i),
                Stats {
                    n_tokens: n.value(i),
                    firing_count: fc.value(i),
                    firing_rate: fr.value(i),
                    mean: mean.value(i),
                    mean_nonzero: mnz.value(i),
                    max: max.value(i),
                    p95: p95.value(i),
                },
            ));
        }
    }
    Ok(out)
}
