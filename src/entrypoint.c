// The Rust static library registers the package's routines (extendr's and
// the raw fast path of forward()); this C file forwards R's init call to it
// so the linker keeps the library.
void fwdprop_register_routines(void *dll);
// extendr-api's panic hook: keeps Rust panic messages (which extendr turns
// into ordinary R errors) off stderr unless EXTENDR_BACKTRACE is set.
void register_extendr_panic_hook(void);

void R_init_fwdprop(void *dll) {
    register_extendr_panic_hook();
    fwdprop_register_routines(dll);
}
