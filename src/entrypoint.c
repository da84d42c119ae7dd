// The Rust static library registers the package's routines; this C file
// forwards R's init call to it so the linker keeps the library.
void R_init_fwdprop_extendr(void *dll);

void R_init_fwdprop(void *dll) {
    R_init_fwdprop_extendr(dll);
}
