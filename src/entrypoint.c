// The Rust static library registers the package's routines; this C file
// forwards R's init call to it so the linker keeps the library.
void R_init_fwdprop_extendr(void *dll);
// extendr-api's panic hook: keeps Rust panic messages (which extendr turns
// into ordinary R errors) off stderr unless EXTENDR_BACKTRACE is set.
void register_extendr_panic_hook(void);

void R_init_fwdprop(void *dll) {
    register_extendr_panic_hook();
    R_init_fwdprop_extendr(dll);
}
