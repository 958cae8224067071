//! Hostile weight files: each malformation is a typed error naming the tensor, expected and
//! found; no input panics, and no allocation is sized by what a header claims. The last
//! tests run the `cargo fuzz` target's code over a corpus of mutated files (also where no
//! nightly toolchain is at hand), checking that a file loads exactly when the format's
//! reference implementation loads it.

#[path = "../fuzz/fuzz_targets/exercise.rs"]
mod exercise;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell as StdCell;

use rnn::cells::{GruCell, LstmCell};
use rnn::parameters::{Dtype, Shape};
use rnn::weight_file::{self, WeightFile, WeightFileError as E};

/// Tracks the largest single allocation of the current thread.
struct Largest;

thread_local! {
    static LARGEST: StdCell<usize> = const { StdCell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// allocator contract holds as it does for `System`; the thread-local is a const-initialised
// `Cell<usize>` whose access never allocates (no reentrancy).
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|n| n.set(n.get().max(layout.size())));
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (via `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

/// The largest allocation `f` makes on this thread.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.with(|n| n.set(0));
    f();
    LARGEST.with(|n| n.get())
}

/// A file with `header` as its JSON and `data` after it.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn lstm_file() -> Vec<u8> {
    weight_file::save(&LstmCell::<2, 1>::zeros()).unwrap()
}

fn parse_err(bytes: &[u8]) -> E {
    WeightFile::parse(bytes).unwrap_err()
}

fn load_err(bytes: &[u8]) -> E {
    let mut lstm = LstmCell::<2, 1>::zeros();
    weight_file::load(&mut lstm, bytes).unwrap_err()
}

fn name(s: &str) -> String {
    s.into()
}

#[test]
fn truncated_files() {
    assert_eq!(
        parse_err(&[1, 2, 3]),
        E::Truncated {
            what: "header length",
            expected: 8,
            found: 3
        }
    );
    let whole = lstm_file();
    let header_len = u64::from_le_bytes(whole[..8].try_into().unwrap());
    let err = parse_err(&whole[..20]);
    assert_eq!(
        err,
        E::Truncated {
            what: "header",
            expected: header_len,
            found: 12
        }
    );
    assert_eq!(
        err.to_string(),
        format!("truncated weight file: the header needs {header_len} bytes, found 12")
    );
    // Cut inside the data: the last tensor's offsets run past the end.
    let err = parse_err(&whole[..whole.len() - 1]);
    assert!(
        matches!(err, E::DataOutOfBounds { ref tensor, .. } if *tensor == "bias"),
        "{err}"
    );
}

#[test]
fn corrupt_headers() {
    // Not JSON, or not the object safetensors writes: where (a byte offset of the file, lines
    // included) and what serde_json, the reference's parser, says.
    let cases: [(&str, usize, &str); 9] = [
        ("", 8, "EOF while parsing a value"),
        (
            "[1, 2]",
            8,
            "invalid type: sequence, expected the header's JSON object",
        ),
        ("{\"a\" 1}", 13, "expected `:`"),
        ("{\"a\":{\"dtype\":\"F32\",}}", 28, "trailing comma"),
        (
            "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}} trailing",
            62,
            "trailing characters",
        ),
        ("{\"a\":{\"shape\":[01]}}", 24, "invalid number"),
        ("{\"\\ud800\":{}}", 16, "unexpected end of hex escape"),
        (
            "{\"__metadata__\":{\"k\":1}}",
            29,
            "invalid type: integer `1`, expected a string",
        ),
        (
            "{\"__metadata__\":{},\n\"__metadata__\":{}}",
            41,
            "duplicate field `__metadata__`",
        ),
    ];
    for (header, offset, reason) in cases {
        let bytes = file(header, &[]);
        assert_eq!(
            parse_err(&bytes),
            E::CorruptHeader {
                offset,
                reason: reason.into()
            },
            "{header}"
        );
        assert!(
            safetensors::SafeTensors::deserialize(&bytes).is_err(),
            "{header}"
        );
    }
    // Well-formed JSON, but a tensor's entry is not a tensor's: named.
    for (header, reason) in [
        (
            "{\"a\":{\"shape\":[-1]}}",
            "invalid value: integer `-1`, expected usize",
        ),
        (
            "{\"a\":{\"shape\":[1.5]}}",
            "invalid type: floating point `1.5`, expected usize",
        ),
        (
            "{\"a\":{\"shape\":[99999999999999999999]}}",
            "invalid type: floating point `1e+20`, expected usize",
        ),
        ("{\"a\":{\"shape\":[1]}}", "missing field `dtype`"),
        (
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}",
            "missing field `data_offsets`",
        ),
    ] {
        assert_eq!(
            parse_err(&file(header, &[])),
            E::BadTensorInfo {
                tensor: name("a"),
                reason: reason.into()
            },
            "{header}"
        );
    }
    let mut not_utf8 = file("{\"ab\":{}}", &[]);
    not_utf8[11] = 0xFF;
    assert_eq!(
        parse_err(&not_utf8),
        E::CorruptHeader {
            offset: 11,
            reason: "expected UTF-8 text".into()
        }
    );
    assert_eq!(
        parse_err(&file("{\"a\":{\"shape\":[1]}}", &[])).to_string(),
        "tensor `a` in the header: missing field `dtype`"
    );
    // Fields the format does not define are ignored, as the reference ignores them.
    let extra = "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"extra\":1}}";
    assert_eq!(WeightFile::parse(&file(extra, &[0; 4])).unwrap().len(), 1);
}

#[test]
fn headers_claiming_huge_sizes_allocate_nothing_of_that_size() {
    let huge_header = {
        let mut f = lstm_file();
        f[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        f
    };
    let huge_shape = file(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1024],\"data_offsets\":[0,4503599627370496]}}",
        &[0; 16],
    );
    let overflowing_shape = file(
        "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}",
        &[0; 8],
    );
    let many_dims = file(
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
        &[0],
    );
    let backwards = file(
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[9,3]}}",
        &[0; 16],
    );
    let mut errors = Vec::new();
    let largest = largest_allocation(|| {
        for bytes in [
            &huge_header,
            &huge_shape,
            &overflowing_shape,
            &many_dims,
            &backwards,
        ] {
            errors.push(parse_err(bytes));
        }
    });
    assert!(largest < 4096, "largest allocation {largest} bytes");
    assert_eq!(
        errors[0],
        E::HeaderTooLarge {
            claimed: u64::MAX,
            limit: 100_000_000
        }
    );
    assert_eq!(
        errors[1],
        E::DataOutOfBounds {
            tensor: name("w"),
            offsets: [0, 4503599627370496],
            data_len: 16
        }
    );
    assert_eq!(
        errors[1].to_string(),
        "tensor `w`: expected data offsets within 0..=16, found 0..4503599627370496"
    );
    assert_eq!(
        errors[2],
        E::BadTensorInfo {
            tensor: name("w"),
            reason: "expected a shape whose size in bytes fits in memory".into()
        }
    );
    assert_eq!(
        errors[3],
        E::BadTensorInfo {
            tensor: name("w"),
            reason: "expected at most 8 dimensions, found 9".into()
        }
    );
    assert!(matches!(
        errors[4],
        E::DataOutOfBounds {
            offsets: [9, 3],
            ..
        }
    ));

    // A header that claims a size its offsets do not span.
    assert_eq!(
        parse_err(&file(
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,8]}}",
            &[0; 8]
        ))
        .to_string(),
        "tensor `w`: a F32 tensor of shape [2, 3] needs 24 bytes, found 8"
    );
}

#[test]
fn memory_is_a_small_multiple_of_the_file() {
    // The densest headers there are: entries in the sequence form serde accepts for a
    // struct, each a few bytes; and a shape of thousands of dimensions (refused, but read
    // first). The index holds ~72 bytes per entry, and a growing `Vec` can ask for twice
    // what it holds.
    let entries: Vec<String> = (0..20_000)
        .map(|i| format!("\"{i}\":[\"U8\",[0],[0,0]]"))
        .collect();
    let dense = file(&format!("{{{}}}", entries.join(",")), &[]);
    let dims = vec!["1"; 50_000].join(",");
    let wide = file(
        &format!("{{\"w\":{{\"dtype\":\"U8\",\"shape\":[{dims}],\"data_offsets\":[0,1]}}}}"),
        &[0],
    );
    for bytes in [&dense, &wide] {
        let largest = largest_allocation(|| {
            let _ = exercise::load_every_way(bytes);
        });
        println!("{} bytes: largest allocation {largest}", bytes.len());
        assert!(
            largest <= 4096 + 8 * bytes.len(),
            "an allocation of {largest} bytes for a {}-byte file",
            bytes.len()
        );
    }
    assert_eq!(WeightFile::parse(&dense).unwrap().len(), 20_000);
}

#[test]
fn wrong_and_unknown_dtypes() {
    assert_eq!(
        parse_err(&file(
            "{\"kernel\":{\"dtype\":\"F33\",\"shape\":[],\"data_offsets\":[0,4]}}",
            &[0; 4]
        )),
        E::UnknownDtype {
            tensor: name("kernel"),
            found: name("F33")
        }
    );
    // An integer tensor where a float parameter is needed.
    let header = "{\"kernel\":{\"dtype\":\"I32\",\"shape\":[2,4],\"data_offsets\":[0,32]},\
                  \"recurrent_kernel\":{\"dtype\":\"F32\",\"shape\":[1,4],\"data_offsets\":[32,48]},\
                  \"bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]}}";
    let err = load_err(&file(header, &[0; 64]));
    assert_eq!(
        err,
        E::WrongDtype {
            tensor: name("kernel"),
            expected: Dtype::F32,
            found: Dtype::I32
        }
    );
    assert_eq!(
        err.to_string(),
        "tensor `kernel`: expected a float tensor for a F32 parameter (F32 or F64), found I32"
    );
}

#[test]
fn missing_unexpected_and_misshapen_tensors() {
    let ok = "{\"kernel\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},\
              \"recurrent_kernel\":{\"dtype\":\"F32\",\"shape\":[1,4],\"data_offsets\":[32,48]},\
              \"bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]}}";
    let mut lstm = LstmCell::<2, 1>::zeros();
    weight_file::load(&mut lstm, &file(ok, &[0; 64])).unwrap();

    let missing = ok.replace("\"bias\"", "\"biases\"");
    assert_eq!(
        load_err(&file(&missing, &[0; 64])),
        E::Missing {
            tensor: name("bias"),
            expected: Shape::new(&[4])
        }
    );
    let misshapen = ok.replace("[2,4]", "[4,2]");
    let err = load_err(&file(&misshapen, &[0; 64]));
    assert_eq!(
        err,
        E::WrongShape {
            tensor: name("kernel"),
            expected: Shape::new(&[2, 4]),
            found: Shape::new(&[4, 2])
        }
    );
    assert_eq!(
        err.to_string(),
        "tensor `kernel`: expected shape [2, 4], found [4, 2]"
    );
    let extra = ok.replace(
        "}}",
        "},\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[64,68]}}",
    );
    assert_eq!(
        load_err(&file(&extra, &[0; 68])),
        E::Unexpected { tensor: name("x") }
    );
}

#[test]
fn duplicate_names() {
    let dup = "{\"kernel\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\
               \"ker\\u006eel\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    let bytes = file(dup, &[0; 4]);
    let err = parse_err(&bytes);
    assert_eq!(
        err,
        E::Duplicate {
            tensor: name("kernel")
        }
    );
    // Stricter than the reference, which keeps one of the two: a reader that keeps the
    // other would load other weights from the same file.
    assert_eq!(
        safetensors::SafeTensors::deserialize(&bytes).unwrap().len(),
        1
    );
    assert_eq!(
        err.to_string(),
        "tensor `kernel`: expected one tensor of this name, found two"
    );
    // Saving a model whose flattened fields collide is refused too.
    #[derive(rnn::Parameters)]
    struct Twice {
        #[parameters(flatten)]
        a: LstmCell<2, 1>,
        #[parameters(flatten)]
        b: LstmCell<2, 1>,
    }
    let twice = Twice {
        a: LstmCell::zeros(),
        b: LstmCell::zeros(),
    };
    assert_eq!(
        weight_file::save(&twice).unwrap_err(),
        E::Duplicate {
            tensor: name("kernel")
        }
    );
}

#[test]
fn keras_exports_with_bad_names_or_counts() {
    let t = |name: &str, at: usize| {
        format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[{},{}]}}",
            4 * at,
            4 * at + 4
        )
    };
    let mut gru = GruCell::<1, 1>::zeros(); // kernel [1, 3], recurrent [1, 3], bias [2, 3]
    let three = |a: &str, b: &str, c: &str| {
        file(
            &format!("{{{},{},{}}}", t(a, 0), t(b, 1), t(c, 2)),
            &[0; 12],
        )
    };
    let err = WeightFile::parse(&file(&format!("{{{}}}", t("0000/k", 0)), &[0; 4]))
        .unwrap()
        .import_keras(&mut gru)
        .unwrap_err();
    assert_eq!(
        err,
        E::CountMismatch {
            expected: 3,
            found: 1
        }
    );
    for (bad, key) in [
        (three("0/a", "1/b", "kernel"), "kernel"),
        (three("0/a", "1/b", "3/c"), "3/c"),
    ] {
        let err = WeightFile::parse(&bad)
            .unwrap()
            .import_keras(&mut gru)
            .unwrap_err();
        assert_eq!(err, E::KerasKey { tensor: name(key) });
    }
    let repeated = three("0/a", "2/b", "2/c");
    let err = WeightFile::parse(&repeated)
        .unwrap()
        .import_keras(&mut gru)
        .unwrap_err();
    assert!(matches!(err, E::Duplicate { .. }), "{err}");
    let shapes = three("0/a", "1/b", "2/c");
    let err = WeightFile::parse(&shapes)
        .unwrap()
        .import_keras(&mut gru)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `0/a → kernel`: expected shape [1, 3], found []"
    );
}

#[test]
fn a_failed_load_leaves_the_cell_unchanged() {
    let mut lstm = LstmCell::<2, 1>::keras_init(3);
    let before = lstm.clone();
    // The first two tensors fit; the bias does not.
    let header = "{\"kernel\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},\
                  \"recurrent_kernel\":{\"dtype\":\"F32\",\"shape\":[1,4],\"data_offsets\":[32,48]},\
                  \"bias\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[48,64]}}";
    assert!(weight_file::load(&mut lstm, &file(header, &[0x3F; 64])).is_err());
    assert_eq!(lstm, before);
}

#[test]
fn long_names_are_whole_in_errors() {
    let long = "x".repeat(300);
    let header =
        format!("{{\"{long}\":{{\"dtype\":\"BAD\",\"shape\":[],\"data_offsets\":[0,1]}}}}");
    let err = parse_err(&file(&header, &[0]));
    let E::UnknownDtype { ref tensor, .. } = err else {
        panic!("unknown dtype: {err}")
    };
    assert_eq!(*tensor, long);
    assert!(err.to_string().contains(&format!("`{long}`")), "{err}");
}

// ------------------------------------------------------------------- mutated corpus

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/weight_file");
    // The committed seeds only: a local fuzzing run adds (and removes) files beside them.
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed_"))
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5, "the seeds in {}", dir.display());
    seeds
}

/// xorshift64*: a fixed, dependency-free stream of mutations.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random edit of the kinds that break parsers: bit flips, byte writes, cuts, inserts,
/// duplicated spans, length fields and numbers replaced by extreme values.
fn mutate(r: &mut Random, bytes: &mut Vec<u8>) {
    let extremes: [&[u8]; 8] = [
        b"18446744073709551615",
        b"18446744073709551616",
        b"0",
        b"-1",
        b"4294967296",
        b"1e9",
        b"\\u0000",
        b"\"",
    ];
    let len = bytes.len();
    match r.below(9) {
        0 if len > 0 => {
            let i = r.below(len);
            bytes[i] ^= 1 << r.below(8);
        }
        1 if len > 0 => {
            let i = r.below(len);
            bytes[i] = r.next() as u8;
        }
        2 => bytes.truncate(r.below(len + 1)),
        3 => {
            let i = r.below(len + 1);
            let b = [b'{', b'}', b'[', b']', b',', b':', b'"', b'\\', b'9', 0xFF];
            bytes.insert(i, b[r.below(b.len())]);
        }
        4 if len > 1 => {
            let (a, b) = (r.below(len), r.below(len));
            let (a, b) = (a.min(b), a.max(b));
            let span = bytes[a..b].to_vec();
            let at = r.below(bytes.len() + 1);
            bytes.splice(at..at, span);
        }
        5 if len >= 8 => {
            let v = match r.below(4) {
                0 => u64::MAX,
                1 => r.next(),
                2 => (len as u64).saturating_sub(8 + r.below(4) as u64),
                _ => (len as u64 + r.below(4) as u64).saturating_sub(8),
            };
            bytes[..8].copy_from_slice(&v.to_le_bytes());
        }
        6 => {
            // Replace a run of digits with an extreme number.
            let digits: Vec<usize> = (0..len).filter(|&i| bytes[i].is_ascii_digit()).collect();
            if let Some(&i) = digits.get(r.below(digits.len())) {
                let end = (i..len)
                    .find(|&j| !bytes[j].is_ascii_digit())
                    .unwrap_or(len);
                let with = extremes[r.below(extremes.len())];
                bytes.splice(i..end, with.iter().copied());
            }
        }
        7 => {
            // Rename a dtype.
            let find = |pat: &[u8]| bytes.windows(pat.len()).position(|w| w == pat);
            if let Some(i) = find(b"\"F32\"").or_else(|| find(b"\"F64\"")) {
                let with: [&[u8]; 4] = [b"\"I64\"", b"\"BF16\"", b"\"F16\"", b"\"XYZ\""];
                bytes.splice(i..i + 5, with[r.below(4)].iter().copied());
            }
        }
        _ => {
            // Swap two bytes.
            if len > 1 {
                let (a, b) = (r.below(len), r.below(len));
                bytes.swap(a, b);
            }
        }
    }
}

#[test]
fn the_seed_corpus_parses() {
    for seed in corpus() {
        assert!(exercise::exercise(&seed).is_some());
    }
}

/// The fuzz target's code on mutated files: never a panic. `RNN_MUTATIONS` sets how many
/// per seed (default 3000; CI's budget), e.g. `RNN_MUTATIONS=200000 cargo test --release
/// --test hostile_files`.
#[test]
fn mutated_files_never_panic() {
    let per_seed: usize = std::env::var("RNN_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut r = Random(0x5EED_F00D_1234_5678);
    let (mut accepted, mut refused) = (0usize, 0usize);
    let seeds = corpus();
    for seed in &seeds {
        for _ in 0..per_seed {
            let mut bytes = seed.clone();
            for _ in 0..1 + r.below(4) {
                mutate(&mut r, &mut bytes);
            }
            // Agreeing with the reference (whose own allocations are not ours to bound).
            let agreed = exercise::exercise(&bytes);
            let mut loaded = None;
            let largest = largest_allocation(|| loaded = exercise::load_every_way(&bytes));
            assert_eq!(loaded, agreed);
            match loaded {
                Some(_) => accepted += 1,
                None => refused += 1,
            }
            // The cells' own kernels (a few hundred bytes) and the header's index (a small
            // multiple of the header, itself part of the file), never what a header claims.
            assert!(
                largest <= 4096 + 8 * bytes.len(),
                "an allocation of {largest} bytes for a {}-byte file",
                bytes.len()
            );
        }
    }
    println!(
        "{} mutated files: {accepted} accepted, {refused} refused, no panic",
        accepted + refused
    );
    assert!(refused > 0 && accepted > 0);
}

// ------------------------------------------ overlaps, values past the end, messages

/// Two F32 tensors `a` and `b` of `[n]` values at the given byte offsets, over `data_len`
/// bytes of data.
fn two(a: [usize; 2], b: [usize; 2], data_len: usize) -> Vec<u8> {
    let entry = |name: &str, [s, e]: [usize; 2]| {
        format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{s},{e}]}}",
            (e - s) / 4
        )
    };
    file(
        &format!("{{{},{}}}", entry("a", a), entry("b", b)),
        &vec![0; data_len],
    )
}

#[test]
fn overlapping_aliased_and_uncovered_bytes_are_refused() {
    // Tiled exactly: accepted, by the reference implementation too.
    let tiled = two([0, 8], [8, 16], 16);
    assert_eq!(WeightFile::parse(&tiled).unwrap().len(), 2);
    assert!(safetensors::SafeTensors::deserialize(&tiled).is_ok());

    let cases = [
        (
            two([0, 8], [4, 12], 12),
            E::Overlap {
                tensor: name("b"),
                offsets: [4, 12],
                other: name("a"),
                other_offsets: [0, 8],
            },
        ),
        // Two names for the same bytes.
        (
            two([0, 8], [0, 8], 8),
            E::Overlap {
                tensor: name("b"),
                offsets: [0, 8],
                other: name("a"),
                other_offsets: [0, 8],
            },
        ),
        // Bytes between two tensors, and after the last.
        (two([0, 4], [8, 12], 12), E::Uncovered { start: 4, end: 8 }),
        (two([0, 4], [4, 8], 10), E::Uncovered { start: 8, end: 10 }),
    ];
    for (bytes, expected) in cases {
        assert_eq!(parse_err(&bytes), expected);
        assert!(safetensors::SafeTensors::deserialize(&bytes).is_err());
    }
    assert_eq!(
        parse_err(&two([0, 8], [4, 12], 12)).to_string(),
        "tensor `b`: expected its bytes after those of `a` (0..8), found 4..12, which overlap \
         them"
    );
    assert_eq!(
        parse_err(&two([0, 4], [8, 12], 12)).to_string(),
        "bytes 4..8 of the data: expected every byte to belong to exactly one tensor, found \
         them in none"
    );
    // Header order is kept when it is not the order of the bytes.
    let swapped = two([8, 16], [0, 8], 16);
    let file = WeightFile::parse(&swapped).unwrap();
    let names: Vec<&str> = file.tensors().map(|t| t.name()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(
        file.get("b").unwrap().bytes().as_ptr(),
        swapped[swapped.len() - 16..].as_ptr()
    );
}

#[test]
fn value_past_the_end_is_none_never_an_overflow() {
    let bytes = two([0, 8], [8, 16], 16);
    let file = WeightFile::parse(&bytes).unwrap();
    let a = file.get("a").unwrap();
    for i in [
        2,
        usize::MAX,
        usize::MAX / 4,
        usize::MAX / 8,
        usize::MAX / 4 + 1,
    ] {
        assert_eq!(a.value(i), None, "value({i})");
    }
    let f64s = file_of_f64("w", &[1.0, 2.0]);
    let file = WeightFile::parse(&f64s).unwrap();
    let w = file.get("w").unwrap();
    assert_eq!(w.value(1), Some(2.0));
    for i in [2, usize::MAX, usize::MAX / 8, usize::MAX / 8 + 1] {
        assert_eq!(w.value(i), None, "value({i})");
    }
}

/// One F64 tensor `name` of shape `[values.len()]`.
fn file_of_f64(name: &str, values: &[f64]) -> Vec<u8> {
    let header = format!(
        "{{\"{name}\":{{\"dtype\":\"F64\",\"shape\":[{}],\"data_offsets\":[0,{}]}}}}",
        values.len(),
        8 * values.len()
    );
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    file(&header, &data)
}

#[test]
fn a_file_that_is_not_safetensors_says_so() {
    let text = b"hello, this is a text file and no safetensors at all\n";
    let claimed = u64::from_le_bytes(text[..8].try_into().unwrap());
    assert_eq!(
        parse_err(text).to_string(),
        format!(
            "not a safetensors file: expected its first 8 bytes to give the length of its JSON \
             header, at most 100000000, found {claimed}"
        )
    );
}

#[test]
fn control_characters_in_names_are_escaped_in_errors() {
    // A tensor the cell lacks, named to rewrite a terminal line and colour it.
    let evil = "\\u001b[2K\\rok\\u202e\\n";
    let ok = "{\"kernel\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},\
              \"recurrent_kernel\":{\"dtype\":\"F32\",\"shape\":[1,4],\"data_offsets\":[32,48]},\
              \"bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]},";
    let header =
        format!("{ok}\"{evil}\":{{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[64,68]}}}}");
    let msg = load_err(&file(&header, &[0; 68])).to_string();
    assert!(
        !msg.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{msg:?}"
    );
    assert!(msg.contains(r"\u{1b}[2K\rok\u{202e}\n"), "{msg}");
}
