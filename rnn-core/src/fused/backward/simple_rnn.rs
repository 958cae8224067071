//! The fused SimpleRNN's backward: `h' = act(x·W + h·U + b)`, the derivative taken from the
//! output.

use super::super::gates::{self, Lanes, Units};
use super::super::packed::{Path, Stacked};
use super::super::SimpleRnn;
use super::{adjoint, backward, forward, Back, Backward, Gradients, Step, Trace};
use crate::error::ShapeError;
use crate::ops::Activation;

one_state_training!(SimpleRnn, 1, "the outputs and the initial state");

impl<const I: usize, const H: usize> Backward<I, 1, H> for SimpleRnn<'_, I, H> {
    #[inline(always)]
    fn step(&self, w: &[Stacked<'_>; 2], c: &mut Back<'_>, at: Step, path: Path) {
        let act = self.cell().activation;
        let (out, dy) = (c.out, c.dy);
        for b in 0..at.n {
            let row = Back::row(b, at, H);
            let mut step = Sample {
                y: &out[row..row + H],
                dy: &dy[row..row + H],
                dh: &c.dh[b * H..(b + 1) * H],
                dz: &mut c.dz[row..row + H],
            };
            if act == Activation::Tanh {
                gates::run(&mut step, H, path);
            } else {
                for (dz, (&dy, &dh)) in step.dz.iter_mut().zip(step.dy.iter().zip(step.dh)) {
                    *dz = dy + dh;
                }
                adjoint(act, step.y, step.dz);
            }
        }
        let dz = (&c.dz[at.t * H..], at.t_len * H);
        w[0].product(at.n, [dz, (&[], 0)], c.dh, H);
    }
}

/// One sample's step backward with tanh: `dz = (dy + dh) ⊙ (1 − y²)`.
struct Sample<'r> {
    y: &'r [f32],
    dy: &'r [f32],
    dh: &'r [f32],
    dz: &'r mut [f32],
}

impl Units for Sample<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        let y = l.load(&self.y[k..]);
        let dh = l.add(l.load(&self.dy[k..]), l.load(&self.dh[k..]));
        let slope = l.sub(l.splat(1.0), l.mul(y, y));
        l.store(l.mul(dh, slope), &mut self.dz[k..]);
    }
}
