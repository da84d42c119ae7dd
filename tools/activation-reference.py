# Reference values of the GELU, softplus and ELU activations and their
# derivatives (mpmath, 60 digits), pasted into the tests of
# src/rust/core/src/activation.rs. Run: python3 tools/activation-reference.py
import mpmath as mp
mp.mp.dps = 60
zs = [-40.0, -10.0, -5.5, -3.0, -1.0, -0.5, -1e-10, 0.3, 1.0, 2.5, 7.0, 30.0]
def P(z): return mp.ncdf(z)
def p(z): return mp.npdf(z)
print("    const GELU_REFERENCE: &[(f64, f64, f64)] = &[")
for z in zs:
    Z = mp.mpf(z)
    print(f"        ({z!r}, {float(Z*P(Z))!r}, {float(P(Z)+Z*p(Z))!r}),")
print("    ];")
zs2 = [-745.0, -40.0, -20.0, -1.0, -1e-8, 0.5, 3.0, 19.9, 20.0]
print("    const SOFTPLUS_REFERENCE: &[(f64, f64, f64)] = &[")
for z in zs2:
    Z = mp.mpf(z)
    print(f"        ({z!r}, {float(mp.log1p(mp.exp(Z)))!r}, {float(mp.exp(Z)/(1+mp.exp(Z)))!r}),")
print("    ];")
zs3 = [-800.0, -30.0, -2.0, -1e-10, -0.0]
print("    const ELU_REFERENCE: &[(f64, f64, f64)] = &[")
for z in zs3:
    Z = mp.mpf(z)
    print(f"        ({z!r}, {float(mp.expm1(Z))!r}, {float(mp.exp(Z))!r}),")
print("    ];")
