//! The fused LSTM's backward: `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ act(c')`.

use super::super::gates::{self, sigmoid_slope, tanh, Lanes, Units};
use super::super::packed::{Path, Stacked};
use super::super::Lstm;
use super::{adjoint, backward, forward, Back, Backward, Gradients, Step, Trace};
use crate::error::ShapeError;
use crate::ops::Activation;

impl<const I: usize, const H: usize> Lstm<'_, I, H> {
    /// [`forward_into`](Self::forward_into) (the same bits) over samples of `lengths` steps
    /// (non-increasing, each at most `T`; `None`: all `T`), recording in `trace` what
    /// [`backward_into`](Self::backward_into) needs: `[i f g o]` after their activations and
    /// `c`, `5H` values per sample-step. An error when a buffer has the wrong size or the
    /// lengths are out of order.
    #[doc(hidden)]
    pub fn forward_train_into(
        &self,
        inputs: &[f32],
        batch: usize,
        lengths: Option<&[usize]>,
        initial: Option<(&[f32], &[f32])>,
        trace: &mut Trace,
    ) -> Result<(), ShapeError> {
        forward::<_, I, 4, H, 2>(
            self,
            (inputs, batch, lengths),
            [
                ("initial h [B, H]", initial.map(|s| s.0)),
                ("initial c [B, H]", initial.map(|s| s.1)),
            ],
            trace,
        )
    }

    /// The backward of the run `trace` recorded, whose `inputs` are given again: from the
    /// adjoints of every output (`d_outputs`, `[B, T, H]`; those past a sample's length are
    /// ignored) and of the final `(h, c)` (`None`: zeros), the gradients in `grads`.
    #[doc(hidden)]
    pub fn backward_into(
        &self,
        trace: &Trace,
        inputs: &[f32],
        d_outputs: &[f32],
        d_final: Option<(&[f32], &[f32])>,
        grads: &mut Gradients,
    ) -> Result<(), ShapeError> {
        backward::<_, I, 4, H>(
            self,
            trace,
            (inputs, d_outputs),
            [d_final.map(|d| d.0), d_final.map(|d| d.1)],
            grads,
        )
    }
}

impl<const I: usize, const H: usize> Backward<I, 4, H> for Lstm<'_, I, H> {
    const STATES: usize = 2;

    #[inline(always)]
    fn step(&self, w: &[Stacked<'_>; 2], c: &mut Back<'_>, at: Step, path: Path) {
        let cell = self.cell();
        let (act, rec) = (cell.activation, cell.recurrent_activation);
        let standard = (act, rec) == (Activation::Tanh, Activation::Sigmoid);
        let (saved, gh) = (5 * H, 4 * H);
        let (tape, c0, dy) = (c.tape, c.c0, c.dy);
        for b in 0..at.n {
            let here = Back::row(b, at, saved);
            let gates = &tape[here..here + saved];
            let c_prev = match at.t {
                0 => &c0[b * H..(b + 1) * H],
                _ => &tape[here - H..here],
            };
            let step = Sample {
                gates,
                c_prev,
                dy: &dy[Back::row(b, at, H)..][..H],
                dh: &c.dh[b * H..(b + 1) * H],
                dc: &mut c.dc[b * H..(b + 1) * H],
                dz: &mut c.dz[Back::row(b, at, gh)..][..gh],
            };
            if standard {
                gates::run(&mut { step }, H, path);
            } else {
                step.general((act, rec), &mut c.tmp[b * 2 * H..(b + 1) * 2 * H]);
            }
        }
        let dz = (&c.dz[at.t * gh..], at.t_len * gh);
        w[0].product(at.n, [dz, (&[], 0)], c.dh, H);
    }
}

/// One sample's step backward: from its record `[i f g o c]`, the previous `c` and the
/// adjoints of its output `dy` and carried `dh`, `dc`, the gate adjoints `dz` and the carried
/// `dc` of the step before (in place).
struct Sample<'r> {
    gates: &'r [f32],
    c_prev: &'r [f32],
    dy: &'r [f32],
    dh: &'r [f32],
    dc: &'r mut [f32],
    dz: &'r mut [f32],
}

impl Units for Sample<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        let h = self.dc.len();
        let gate = |g: usize| l.load(&self.gates[g * h + k..]);
        let (i, f, g, o) = (gate(0), gate(1), gate(2), gate(3));
        // `act(c')` as the forward computed it.
        let tc = tanh(l, gate(4));
        let one = l.splat(1.0);
        let dh = l.add(l.load(&self.dy[k..]), l.load(&self.dh[k..]));
        let dc = l.mul_add(
            l.mul(dh, o),
            l.sub(one, l.mul(tc, tc)),
            l.load(&self.dc[k..]),
        );
        let di = l.mul(l.mul(dc, g), sigmoid_slope(l, i));
        let df = l.mul(l.mul(dc, l.load(&self.c_prev[k..])), sigmoid_slope(l, f));
        let dg = l.mul(l.mul(dc, i), l.sub(one, l.mul(g, g)));
        let d_o = l.mul(l.mul(dh, tc), sigmoid_slope(l, o));
        for (gate, d) in [di, df, dg, d_o].into_iter().enumerate() {
            l.store(d, &mut self.dz[gate * h + k..]);
        }
        l.store(l.mul(dc, f), &mut self.dc[k..]);
    }
}

impl Sample<'_> {
    /// The step with any activations, a pass per operation; `tmp` holds `2H` values.
    fn general(self, (act, rec): (Activation, Activation), tmp: &mut [f32]) {
        let h = self.dc.len();
        let gate = |g: usize| &self.gates[g * h..(g + 1) * h];
        let (i, f, g, o) = (gate(0), gate(1), gate(2), gate(3));
        let (tc, dh) = tmp.split_at_mut(h);
        tc.copy_from_slice(gate(4));
        act.apply_slice(tc);
        for (dh, (&dy, &carried)) in dh.iter_mut().zip(self.dy.iter().zip(self.dh)) {
            *dh = dy + carried;
        }
        let (di, rest) = self.dz.split_at_mut(h);
        let (df, rest) = rest.split_at_mut(h);
        let (dg, d_o) = rest.split_at_mut(h);
        // The adjoint of `act(c')`, then of `c'`.
        for k in 0..h {
            d_o[k] = dh[k] * o[k];
        }
        adjoint(act, tc, d_o);
        for k in 0..h {
            let dc = self.dc[k] + d_o[k];
            di[k] = dc * g[k];
            df[k] = dc * self.c_prev[k];
            dg[k] = dc * i[k];
            d_o[k] = dh[k] * tc[k];
            self.dc[k] = dc * f[k];
        }
        adjoint(rec, i, di);
        adjoint(rec, f, df);
        adjoint(act, g, dg);
        adjoint(rec, o, d_o);
    }
}
