//! Binary logistic regression with an L2 penalty, fitted by Newton's method.
//!
//! The objective is scikit-learn's `LogisticRegression(C=c)`:
//! `½‖w‖² + C·Σᵢ log(1 + exp(−ỹᵢ(w·xᵢ + b)))`, the intercept `b` unpenalised. Newton steps
//! (the Hessian solved by Cholesky) reach the optimum in a handful of iterations, so the
//! coefficients equal scikit-learn's `lbfgs` solution to its tolerance (tests/reference.rs)
//! and the fit is deterministic: no seed is needed.

use crate::{Matrix, TableError};

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// One weight per encoded column.
    pub weights: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
    /// Newton iterations taken.
    pub iterations: usize,
}

/// The logistic function, computed without overflow.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Logistic {
    /// Fits `x` to `y` (0/1) with inverse regularisation strength `c`.
    ///
    /// # Errors
    /// [`TableError::Shape`] when `x` and `y` differ in length, there are no rows, `c` is not
    /// positive, or the Hessian is singular.
    pub fn fit(x: &Matrix, y: &[u8], c: f64) -> Result<Logistic, TableError> {
        if x.rows != y.len() || x.rows == 0 {
            return Err(TableError::Shape(format!(
                "logistic regression: {} rows of features for {} labels",
                x.rows,
                y.len()
            )));
        }
        if !(c > 0.0 && c.is_finite()) {
            return Err(TableError::Shape(format!("logistic regression: C must be > 0, not {c}")));
        }
        let d = x.cols + 1; // the intercept is the last parameter
        let mut theta = vec![0.0; d];
        let mut iterations = 0;
        for _ in 0..100 {
            iterations += 1;
            let mut grad = vec![0.0; d];
            let mut hess = vec![0.0; d * d];
            for j in 0..x.cols {
                grad[j] = theta[j]; // the penalty's gradient
                hess[j * d + j] = 1.0;
            }
            for (i, &label) in y.iter().enumerate() {
                let row = x.row(i);
                let z = row.iter().zip(&theta).map(|(a, b)| a * b).sum::<f64>() + theta[d - 1];
                let p = sigmoid(z);
                let r = c * (p - f64::from(label));
                let w = c * p * (1.0 - p);
                for j in 0..d {
                    let xj = if j < x.cols { row[j] } else { 1.0 };
                    if xj == 0.0 {
                        continue;
                    }
                    grad[j] += r * xj;
                    for k in 0..=j {
                        let xk = if k < x.cols { row[k] } else { 1.0 };
                        hess[j * d + k] += w * xj * xk;
                    }
                }
            }
            for j in 0..d {
                for k in 0..j {
                    hess[k * d + j] = hess[j * d + k];
                }
            }
            let step = cholesky_solve(&mut hess, &grad, d).ok_or_else(|| {
                TableError::Shape(
                    "logistic regression: the Hessian is singular (a constant column with no penalty?)"
                        .into(),
                )
            })?;
            for (t, s) in theta.iter_mut().zip(&step) {
                *t -= s;
            }
            let size = step.iter().map(|s| s.abs()).fold(0.0, f64::max);
            if size < 1e-10 {
                break;
            }
        }
        let intercept = theta.pop().unwrap_or(0.0);
        Ok(Logistic { weights: theta, intercept, iterations })
    }

    /// The probability of class 1 for each row of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        (0..x.rows)
            .map(|i| {
                let z = x.row(i).iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f64>();
                sigmoid(z + self.intercept)
            })
            .collect()
    }
}

/// Solves `a·x = b` for symmetric positive-definite `a` (`n × n`, overwritten by its Cholesky
/// factor); `None` when `a` is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut diag = a[j * n + j];
        for k in 0..j {
            diag -= a[j * n + k] * a[j * n + k];
        }
        if diag <= 1e-300 {
            return None;
        }
        let diag = diag.sqrt();
        a[j * n + j] = diag;
        for i in j + 1..n {
            let mut v = a[i * n + j];
            for k in 0..j {
                v -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = v / diag;
        }
    }
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= a[i * n + k] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= a[k * n + i] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    Some(y)
}
