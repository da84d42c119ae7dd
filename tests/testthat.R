library(testthat)
library(fwdprop)

test_check("fwdprop")
