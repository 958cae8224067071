//! The layers around the recurrent cells, against central differences in `f64`:
//! `BatchNormalization` in training (batch statistics, moving averages), `Embedding`'s
//! backward feeding a masked recurrent layer, and `Masking`'s mask flowing through the
//! driver's backward.

mod gradcheck;

use gradcheck::{
    dot, flat_all, indices, parameter_names, parameters, set_parameters, unflat_all, Check, Rng,
};
use rnn::cells::{BatchNormalization, Embedding, GruCell, LstmCell};
use rnn::nalgebra::SVector;
use rnn::train::{zeros_like, BackwardError, BatchNormResidual, Tape};
use rnn::{Cell, Mask, Masking, Padding, Rnn, SequenceError, ShapeError};

// ------------------------------------------------------------------------ batch normalization

/// γ, β and the inputs of a training step against central differences, the loss a weighting
/// of every output; the moving statistics untouched by the gradient.
#[test]
fn batch_normalization_training_backward() {
    for (case, batch) in [
        ("bn batch of 6", 6),
        ("bn batch of 2", 2),
        ("bn batch of 1", 1),
    ] {
        let mut rng = Rng::new(case);
        let bn: BatchNormalization<3, f64> = rng.parameters(BatchNormalization::identity(), 1.5);
        let xs: Vec<SVector<f64, 3>> = rng.values(batch);
        let weights: Vec<SVector<f64, 3>> = rng.values(batch);
        let loss = |bn: &BatchNormalization<3, f64>, xs: &[SVector<f64, 3>]| {
            let mut bn = bn.clone();
            let ys = bn.forward_training(xs, 0.99, &mut BatchNormResidual::new());
            ys.iter().zip(&weights).map(|(y, w)| dot(y, w)).sum::<f64>()
        };

        let mut trained = bn.clone();
        let mut residual = BatchNormResidual::new();
        trained.forward_training(&xs, 0.99, &mut residual);
        let mut grads = zeros_like(&bn);
        let dx = bn
            .backward_training(&residual, &weights, &mut grads)
            .unwrap();
        assert_eq!(grads.moving_mean, SVector::<f64, 3>::zeros(), "{case}");
        assert_eq!(grads.moving_variance, SVector::<f64, 3>::zeros(), "{case}");

        let mut check = Check::new(case);
        check.against(
            "parameter",
            &parameter_names(&bn),
            &parameters(&bn),
            &parameters(&grads),
            |p| {
                let mut probe = bn.clone();
                set_parameters(&mut probe, p);
                loss(&probe, &xs)
            },
        );
        check.against(
            "input",
            &indices("x", batch * 3),
            &flat_all(&xs),
            &flat_all(&dx),
            |v| loss(&bn, &unflat_all(v)),
        );
        check.report();
    }
}

/// The forward: batch statistics (biased variance, Keras's `ops.moments`), ε = 1e-3, and the
/// moving averages moved with the same biased variance.
#[test]
fn batch_normalization_training_statistics() {
    let mut rng = Rng::new("bn statistics");
    let mut bn: BatchNormalization<2, f64> = rng.parameters(BatchNormalization::identity(), 1.0);
    let before = bn.clone();
    let xs: Vec<SVector<f64, 2>> = rng.values(5);
    let ys = bn.forward_training(&xs, 0.99, &mut BatchNormResidual::new());
    for i in 0..2 {
        let column: Vec<f64> = xs.iter().map(|x| x[i]).collect();
        let mean = column.iter().sum::<f64>() / 5.0;
        let biased = column.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0;
        for (x, y) in xs.iter().zip(&ys) {
            let expected =
                (x[i] - mean) / (biased + 1e-3).sqrt() * before.gamma[i] + before.beta[i];
            assert!((y[i] - expected).abs() < 1e-14, "output of feature {i}");
        }
        let moving_mean = before.moving_mean[i] * 0.99 + mean * 0.01;
        let moving_variance = before.moving_variance[i] * 0.99 + biased * 0.01;
        assert!((bn.moving_mean[i] - moving_mean).abs() < 1e-15);
        assert!((bn.moving_variance[i] - moving_variance).abs() < 1e-15);
        assert!((bn.gamma[i], bn.beta[i]) == (before.gamma[i], before.beta[i]));
    }
    // An empty batch moves nothing and outputs nothing.
    let moved = bn.clone();
    assert!(bn
        .forward_training(&[], 0.99, &mut BatchNormResidual::new())
        .is_empty());
    assert_eq!(bn, moved);
}

#[test]
fn batch_normalization_backward_checks_its_batch() {
    let mut bn = BatchNormalization::<2, f64>::identity();
    let mut residual = BatchNormResidual::new();
    bn.forward_training(&[SVector::zeros(); 3], 0.99, &mut residual);
    let err = bn
        .backward_training(&residual, &[SVector::zeros(); 2], &mut zeros_like(&bn))
        .unwrap_err();
    assert_eq!(
        err,
        BackwardError::Sequence(SequenceError::BatchSize {
            what: "output adjoints",
            expected: 3,
            found: 2
        })
    );
}

// ---------------------------------------------------------------------------------- embedding

/// Tokens through an embedding (`mask_zero`) into a GRU whose mask is the embedding's: the
/// table's gradient (the driver's input adjoints added into the looked-up rows) against central
/// differences of the table. Token 0's row is looked up but masked: its gradient is zero.
#[test]
fn embedding_into_a_masked_gru() {
    let case = "embedding into gru";
    let mut rng = Rng::new(case);
    let embedding = rng
        .parameters(Embedding::<5, 3, f64>::zeros(), 1.0)
        .mask_zero(true);
    let rnn = rng.parameters(Rnn::new(GruCell::<3, 4, f64>::zeros()), 0.5);
    let tokens = [3, 1, 0, 3, 4, 0];
    let mask = embedding.compute_mask(&tokens);
    assert_eq!(mask, [true, true, false, true, true, false]);
    let w_outputs: Vec<SVector<f64, 4>> = rng.values(tokens.len());
    let loss = |embedding: &Embedding<5, 3, f64>| {
        let xs = embedding.forward(&tokens).unwrap();
        let run = rnn.run_masked(&xs, &mask[..], &()).unwrap();
        run.outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum::<f64>()
    };

    let xs = embedding.forward(&tokens).unwrap();
    let mut tape = Tape::new();
    let s0 = rnn.cell().initial_state(&());
    rnn.run_taped(&xs, &mask[..], s0, &(), &mut tape).unwrap();
    let grads = rnn
        .backward(&tape, &xs, &w_outputs, SVector::zeros(), &())
        .unwrap();
    let mut table = zeros_like(&embedding);
    embedding
        .backward(&tokens, &grads.inputs, &mut table)
        .unwrap();
    assert_eq!(
        table.lookup(0),
        Some(&SVector::<f64, 3>::zeros()),
        "the padding token"
    );
    assert_eq!(
        table.lookup(2),
        Some(&SVector::<f64, 3>::zeros()),
        "a token not read"
    );

    let mut check = Check::new(case);
    check.against(
        "embedding",
        &parameter_names(&embedding),
        &parameters(&embedding),
        &parameters(&table),
        |p| {
            let mut probe = embedding.clone();
            set_parameters(&mut probe, p);
            loss(&probe)
        },
    );
    check.report();
}

#[test]
fn embedding_backward_checks_its_arguments() {
    let embedding = Embedding::<4, 2, f64>::zeros();
    let mut grads = zeros_like(&embedding);
    assert_eq!(
        embedding
            .backward(&[1, 2], &[SVector::zeros()], &mut grads)
            .unwrap_err(),
        BackwardError::Shape(ShapeError::check_steps("output adjoints", 2, 1).unwrap_err())
    );
    let err = embedding
        .backward(&[1, 4], &[SVector::repeat(1.0); 2], &mut grads)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sequence 0, step 1: token 4 is outside the vocabulary of 4"
    );
    assert_eq!(grads, zeros_like(&embedding), "nothing added on an error");
}

// ------------------------------------------------------------------------------------ masking

/// `Masking` has no parameters: its mask reaches the driver, whose backward gives the masked
/// steps a zero adjoint (the cell never read them; `Masking.call`'s zeroing has zero
/// adjoint there too) and the other steps their central differences, the mask held fixed.
#[test]
fn masking_mask_flows_through_the_backward() {
    let case = "masking into lstm";
    let mut rng = Rng::new(case);
    let rnn = rng
        .parameters(Rnn::new(LstmCell::<2, 3, f64>::zeros()), 0.5)
        .padding(Padding::CarryLastOutput);
    let masking = Masking::new(0.0);
    let mut xs: Vec<SVector<f64, 2>> = rng.values(6);
    xs[0] = SVector::zeros();
    xs[3] = SVector::zeros();
    let mask = masking.compute_mask(&xs);
    assert_eq!(mask, [false, true, true, false, true, true]);
    let raw = xs.clone();
    let xs = masking.apply(&xs);
    let w_outputs: Vec<SVector<f64, 3>> = rng.values(6);
    let loss = |xs: &[SVector<f64, 2>]| {
        let run = rnn.run_masked(xs, Mask::Steps(&mask), &()).unwrap();
        run.outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum::<f64>()
    };
    let mut tape = Tape::new();
    let s0 = rnn.cell().initial_state(&());
    rnn.run_taped(&xs, Mask::Steps(&mask), s0.clone(), &(), &mut tape)
        .unwrap();
    let grads = rnn
        .backward(&tape, &xs, &w_outputs, rnn::Nested::zeros(), &())
        .unwrap();
    assert_eq!(grads.inputs[0], SVector::<f64, 2>::zeros());
    assert_eq!(grads.inputs[3], SVector::<f64, 2>::zeros());
    // `Masking.call`'s own backward: its zeroed steps pass nothing back, the others all.
    let ones = vec![SVector::<f64, 2>::repeat(1.0); 6];
    let through = masking.backward(&raw, &ones).unwrap();
    for (t, d) in through.iter().enumerate() {
        let expected = if mask[t] { 1.0 } else { 0.0 };
        assert_eq!(*d, SVector::<f64, 2>::repeat(expected), "step {t}");
    }
    assert_eq!(masking.backward(&raw, &grads.inputs).unwrap(), grads.inputs);
    assert!(masking.backward(&raw, &ones[1..]).is_err());
    let mut check = Check::new(case);
    check.against(
        "input",
        &indices("x", 12),
        &flat_all(&xs),
        &flat_all(&grads.inputs),
        |v| loss(&unflat_all(v)),
    );
    check.report();
}
