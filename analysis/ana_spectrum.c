// ana_spectrum.c: power spectra of short series (gait cycles in a running bout): a Hann-windowed
// periodogram evaluated on a chosen frequency grid by a direct Fourier sum (bouts are ~50-250
// samples, so a grid of a few hundred frequencies costs less than any FFT bookkeeping).
#include <math.h>
#include <stdlib.h>

#include "ana.h"

int ana_periodogram(const double* x, int T, double dt, const double* freqs, int nf, double* power,
                    char* err, size_t err_sz) {
  if (!x || !freqs || !power) return am_err(err, err_sz, "periodogram: NULL argument");
  if (T < 4) return am_err(err, err_sz, "periodogram: %d samples are too few (need >= 4)", T);
  if (!(dt > 0)) return am_err(err, err_sz, "periodogram: sample period %g must be > 0", dt);
  double mean = 0, wsum = 0;
  for (int t = 0; t < T; t++) {
    if (!isfinite(x[t])) return am_err(err, err_sz, "periodogram: sample %d is not finite", t);
    mean += x[t] / T;
  }
  for (int t = 0; t < T; t++) {
    const double w = 0.5 - 0.5 * cos(2 * M_PI * t / (T - 1));
    wsum += w * w;
  }
  for (int k = 0; k < nf; k++) {
    if (!(freqs[k] >= 0) || !(freqs[k] <= 0.5 / dt))
      return am_err(err, err_sz, "periodogram: frequency %g Hz is outside [0, %g] (Nyquist)",
                    freqs[k], 0.5 / dt);
    double re = 0, im = 0;
    for (int t = 0; t < T; t++) {
      const double w = 0.5 - 0.5 * cos(2 * M_PI * t / (T - 1)), v = w * (x[t] - mean);
      const double ph = 2 * M_PI * freqs[k] * t * dt;
      re += v * cos(ph), im -= v * sin(ph);
    }
    power[k] = (re * re + im * im) * dt / wsum;
  }
  return 0;
}
