//! The Japanese Vowels loader reads what `tools/export_japanese_vowels.py` wrote: the counts,
//! lengths and classes of the UCI split, exact values at known lines, and the standardisation
//! `tools/train_japanese_vowels.py` applies before Keras sees the data.

#[path = "../examples/common/japanese_vowels.rs"]
mod japanese_vowels;

use japanese_vowels::{
    data_dir, load, load_standardized, read_utterances, read_utterances_f64, Standardization,
    Utterance, CLASSES, FEATURES, MAX_LEN,
};

fn per_class(utterances: &[Utterance]) -> [usize; CLASSES] {
    let mut counts = [0; CLASSES];
    for (_, label) in utterances {
        counts[*label] += 1;
    }
    counts
}

fn length_range(utterances: &[Utterance]) -> (usize, usize) {
    let lengths = utterances.iter().map(|(frames, _)| frames.len());
    (lengths.clone().min().unwrap(), lengths.max().unwrap())
}

#[test]
fn the_split_has_the_uci_counts_lengths_and_classes() {
    let (train, test) = load().unwrap();
    assert_eq!((train.len(), test.len()), (270, 370));
    assert_eq!(per_class(&train), [30; CLASSES]);
    assert_eq!(per_class(&test), [31, 35, 88, 44, 29, 24, 40, 50, 29]);
    assert_eq!(length_range(&train), (7, 26));
    assert_eq!(length_range(&test), (7, MAX_LEN));
    let frames = |set: &[Utterance]| set.iter().map(|(f, _)| f.len()).sum::<usize>();
    assert_eq!((frames(&train), frames(&test)), (4274, 5687));
}

#[test]
fn values_are_the_files_decimals() {
    let (train, test) = load().unwrap();
    // train.csv line 2: utterance 0, speaker 0, step 0.
    assert_eq!(train[0].1, 0);
    assert_eq!(
        train[0].0[0],
        [
            1.860936, -0.207383, 0.261557, -0.214562, -0.171253, -0.118167, -0.277557, 0.025668,
            0.126701, -0.306756, -0.213076, 0.088728
        ]
    );
    // train.csv line 265: the source wrote c12 as `-6.8E-5`.
    assert_eq!(train[12].0[14][FEATURES - 1], -0.000068);
    // test.csv's last line: utterance 369, speaker 8, step 10 (its last).
    let (frames, label) = &test[369];
    assert_eq!((frames.len(), *label), (11, 8));
    assert_eq!(
        frames[10],
        [
            1.177449, -0.40408, 0.052026, -0.284812, 0.42984, -0.203484, -0.072393, -0.080955,
            -0.244424, -0.001849, -0.016634, 0.224688
        ]
    );
}

#[test]
fn standardization_matches_the_keras_reference_script() {
    let train = read_utterances_f64(&data_dir().join("train.csv")).unwrap();
    let s = Standardization::fit(&train);
    // numpy's `frames.mean(axis=0)` and `frames.std(axis=0)` in tools/train_japanese_vowels.py.
    let mean = [
        0.8691055004679454,
        -0.5545014386991107,
        0.24610908984557886,
        -0.2672937594759011,
        0.21897663032288206,
        -0.21053823982218128,
        -0.17406514178755247,
        -0.05170502854468871,
        -0.20493131305568518,
        -0.18119385119326123,
        -0.023591563406644825,
        0.08621397660271403,
    ];
    let std = [
        0.48761988416516905,
        0.39118182542130053,
        0.3009028692235957,
        0.3059123891460605,
        0.2690989442403855,
        0.16830004030805595,
        0.16122476207948586,
        0.18834022182794483,
        0.18772420549264815,
        0.11691695885971397,
        0.09763703273109704,
        0.12754668924971316,
    ];
    for k in 0..FEATURES {
        assert!(
            (s.mean[k] - mean[k]).abs() <= 1e-14,
            "mean {k}: {} vs {}",
            s.mean[k],
            mean[k]
        );
        assert!(
            (s.std[k] - std[k]).abs() <= 1e-14,
            "std {k}: {} vs {}",
            s.std[k],
            std[k]
        );
    }

    // The float32 inputs the script gives Keras, bit for bit.
    let (train, test) = load_standardized().unwrap();
    assert_eq!(
        train[0].0[0],
        [
            2.034_024,
            0.887_358_3,
            0.051_338_527,
            0.172_375_37,
            -1.450_134_4,
            0.548_848_57,
            -0.641_910_43,
            0.410_815_2,
            1.766_593_2,
            -1.073_943,
            -1.940_702_6,
            0.019_710_613
        ]
    );
    assert_eq!(
        test[369].0[10],
        [
            0.632_344,
            0.384_530_75,
            -0.645_002_5,
            -0.057_265_546,
            0.783_590_5,
            0.041_914_664,
            0.630_623_64,
            -0.155_303_9,
            -0.210_376_1,
            1.533_950_7,
            0.071_259_47,
            1.085_673_2
        ]
    );
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rnn-japanese-vowels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const HEADER: &str = "utterance,label,step,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12\n";

#[test]
fn malformed_files_are_errors_naming_the_line_expected_and_found() {
    let frame = "1,2,3,4,5,6,7,8,9,10,11,12";
    let cases = [
        (
            "u,label\n".to_string(),
            "line 1: expected the header `utterance,label,step,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12`, found `u,label`",
        ),
        (
            format!("{HEADER}0,0,0,1,2\n"),
            "line 2: expected 15 fields (utterance, label, step, c1..c12), found 5",
        ),
        (
            format!("{HEADER}0,9,0,{frame}\n"),
            "line 2: expected a label in 0..9, found 9",
        ),
        (
            format!("{HEADER}0,0,0,{frame}\n0,0,2,{frame}\n"),
            "line 3: expected step 1 of utterance 0, found step 2 of utterance 0",
        ),
        (
            format!("{HEADER}0,0,0,{frame}\n2,0,0,{frame}\n"),
            "line 3: expected utterance 1 to start, found utterance 2",
        ),
        (
            format!("{HEADER}0,0,0,{frame}\n0,1,1,{frame}\n"),
            "line 3: expected label 0 for utterance 0, found 1",
        ),
        (
            format!("{HEADER}0,0,0,1,2,3,4,5,6,7,8,9,10,11,x\n"),
            "line 2, field 15: `x` is not a number",
        ),
    ];
    for (i, (text, message)) in cases.iter().enumerate() {
        let path = write_temp(&format!("case{i}.csv"), text);
        assert_eq!(read_utterances(&path).unwrap_err(), *message, "case {i}");
    }
}
