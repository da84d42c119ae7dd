# Objects read from a damaged or crafted file can break invariants that R's
# own functions keep (here: a dim attribute that does not match the
# length). fwdprop must refuse them with an error, never read out of bounds.

# `m` with its dim attribute replaced by `dims` behind R's back, through
# unserialize() of an edited ASCII serialization.
craft_dim <- function(m, dims) {
  s <- strsplit(rawToChar(serialize(m, NULL, ascii = TRUE)), "\n")[[1]]
  i <- which(s == "13" & c(s[-1], "") == "2")[1]
  s[i + 2:3] <- as.character(dims)
  unserialize(charToRaw(paste0(paste(s, collapse = "\n"), "\n")))
}

test_that("matrices whose dim does not match their length are refused", {
  x <- craft_dim(matrix(1, 1, 2), c(200L, 300L))
  skip_if_not(identical(dim(x), c(200L, 300L)) && length(x) == 2L, "could not craft the object")
  expect_error(mm(x, matrix(1, 300, 100)), "`x` is damaged", class = "fwdprop_error")
  expect_error(mm(matrix(1, 2, 200), x), "`y` is damaged", class = "fwdprop_error")
  net <- network(c(2, 3, 1), seed = 1)
  bad <- net
  bad$weights[[1]] <- craft_dim(net$weights[[1]], c(2L, 3000000L))
  bad$weights[[2]] <- craft_dim(net$weights[[2]], c(3000000L, 1L))
  bad$sizes <- c(2L, 3000000L, 1L)
  expect_error(forward(bad, diag(2)), "`net\\$weights\\[\\[1\\]\\]` is damaged", class = "fwdprop_error")
  expect_error(forward(net, craft_dim(matrix(1, 1, 2), c(100L, 2L))), "`x` is damaged", class = "fwdprop_error")
  expect_error(sigmoid(x), NA) # elementwise: the length is what counts
  # R is fine and normal calls still work
  expect_equal(forward(net, diag(2)), plogis(plogis(diag(2) %*% net$weights[[1]]) %*% net$weights[[2]]),
               tolerance = 1e-14)
})

test_that("the forward() fast path refuses what the ordinary path refuses", {
  net <- network(c(2, 3, 1), seed = 1)
  f <- net
  f$sizes <- factor(c(2, 3, 1))
  expect_error(forward(f, diag(2)), class = "fwdprop_error")
  z <- net
  z$sizes <- c(0L, 3L, 1L)
  z$weights[[1]] <- matrix(0, 0, 3)
  expect_error(forward(z, matrix(0, 1, 0)), class = "fwdprop_error")
})
