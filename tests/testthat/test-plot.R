# plot() for networks: the layout it returns, what it draws on, and its
# argument checks. Each test draws on its own null pdf device.

lecture_w1 <- matrix(c(0.11, 0.62, 0.62, 0.86, 0.64, 0.01), 2)
lecture_w2 <- matrix(c(0.23, 0.67, 0.28), 3)
lecture_net <- function() network(weights = list(lecture_w1, lecture_w2))

# Draws on a fresh null device, closed afterwards; returns the layout.
plot_on_null <- function(...) {
  pdf(NULL)
  on.exit(dev.off())
  plot(...)
}

test_that("plot() draws on the current device and returns the layout invisibly", {
  net <- lecture_net()
  pdf(NULL)
  on.exit(dev.off())
  dev <- dev.cur()
  n_dev <- length(dev.list())
  mar <- par("mar")
  xpd <- par("xpd")
  vis <- withVisible(plot(net))
  expect_false(vis$visible)
  expect_identical(dev.cur(), dev)
  expect_length(dev.list(), n_dev)
  expect_identical(par("mar"), mar)
  expect_identical(par("xpd"), xpd)
  lay <- vis$value
  expect_named(lay, c("nodes", "edges"))
  expect_s3_class(lay$nodes, "data.frame")
  expect_s3_class(lay$edges, "data.frame")
  expect_true(all(c("layer", "index", "x", "y", "colour", "label") %in% names(lay$nodes)))
  expect_true(all(c("layer", "from", "to", "weight", "x0", "y0", "x1", "y1", "highlighted") %in%
                    names(lay$edges)))
})

test_that("plot() works inside a multi-figure layout and restores par()", {
  pdf(NULL)
  on.exit(dev.off())
  par(mfrow = c(1, 2))
  mfg <- par("mfg")
  plot(lecture_net(), main = "first")
  plot(network(c(3, 2), seed = 1), input = c(1, 0, -1))
  expect_identical(par("mfrow"), c(1L, 2L))
  expect_identical(par("mfg")[3:4], mfg[3:4])
})

test_that("nodes follow the layer sizes: counts, colours and positions", {
  for (sizes in list(c(2, 3, 1), c(4, 16, 16, 3), c(3, 2), c(1, 1), c(2, 5, 5, 5, 2))) {
    lay <- plot_on_null(network(sizes, seed = 1))
    nodes <- lay$nodes
    L <- length(sizes) - 1
    expect_identical(nrow(nodes), as.integer(sum(sizes)))
    expect_identical(nodes$layer, rep(seq_len(L + 1L), sizes))
    expect_identical(nodes$index, sequence(sizes))
    # layers left to right, one column each
    expect_identical(nodes$x, as.double(nodes$layer))
    # within a layer, index 1 at the top, evenly spaced and centred
    for (k in seq_len(L + 1L)) {
      y <- nodes$y[nodes$layer == k]
      if (length(y) > 1L) {
        expect_true(all(diff(y) < 0))
        expect_equal(diff(y), rep(diff(y)[1], length(y) - 1L))
      }
      expect_equal(mean(y), 0)
    }
    # input green, hidden grey, output red
    rgb <- grDevices::col2rgb(nodes$colour)
    role <- ifelse(nodes$layer == 1L, "input", ifelse(nodes$layer == L + 1L, "output", "hidden"))
    expect_true(all(rgb["green", role == "input"] > rgb["red", role == "input"]))
    expect_true(all(rgb["green", role == "input"] > rgb["blue", role == "input"]))
    expect_true(all(rgb["red", role == "output"] > rgb["green", role == "output"] + 100))
    hidden <- rgb[, role == "hidden", drop = FALSE]
    expect_true(all(hidden["red", ] == hidden["green", ] & hidden["green", ] == hidden["blue", ]))
    expect_length(unique(nodes$colour[role == "input"]), 1L)
    expect_length(unique(nodes$colour[role == "output"]), 1L)
    # without input, nodes are labelled with their index
    expect_identical(nodes$label, as.character(nodes$index))
  }
})

test_that("edges hold the weights in order, from and to", {
  for (sizes in list(c(2, 3, 1), c(4, 16, 16, 3), c(3, 2), c(1, 1), c(2, 5, 5, 5, 2))) {
    net <- network(sizes, init = "normal", seed = 2)
    lay <- plot_on_null(net)
    edges <- lay$edges
    L <- length(sizes) - 1
    expect_identical(nrow(edges), as.integer(sum(sizes[-1] * sizes[-(L + 1)])))
    expect_identical(edges$layer, rep(seq_len(L), sizes[-1] * sizes[-(L + 1)]))
    for (l in seq_len(L)) {
      e <- edges[edges$layer == l, ]
      expect_identical(e$weight, net$weights[[l]][cbind(e$from, e$to)])
      # every (from, to) pair once
      expect_identical(nrow(unique(e[c("from", "to")])), length(net$weights[[l]]))
      expect_identical(range(e$from), c(1L, as.integer(sizes[l])))
      expect_identical(range(e$to), c(1L, as.integer(sizes[l + 1])))
    }
    # each edge runs from its source node's centre to its target node's centre
    key <- paste(lay$nodes$layer, lay$nodes$index)
    src <- match(paste(edges$layer, edges$from), key)
    dst <- match(paste(edges$layer + 1L, edges$to), key)
    expect_identical(edges$x0, lay$nodes$x[src])
    expect_identical(edges$y0, lay$nodes$y[src])
    expect_identical(edges$x1, lay$nodes$x[dst])
    expect_identical(edges$y1, lay$nodes$y[dst])
    expect_false(any(edges$highlighted))
  }
})

test_that("edge labels are the rounded weights, left off for large networks", {
  net <- network(weights = list(lecture_w1 - 0.5, lecture_w2))
  lay <- plot_on_null(net)
  expect_identical(as.numeric(lay$edges$label), round(lay$edges$weight, 2))
  expect_identical(lay$edges$label[lay$edges$weight == -0.49], "-0.49")
  lay1 <- plot_on_null(net, digits = 1)
  expect_identical(as.numeric(lay1$edges$label), round(lay1$edges$weight, 1))
  lay0 <- plot_on_null(net, digits = 0)
  expect_identical(as.numeric(lay0$edges$label), round(lay0$edges$weight, 0))
  expect_false(any(grepl("-0$", lay0$edges$label))) # no negative zero

  big <- network(c(4, 16, 16, 3), seed = 1)
  lay <- plot_on_null(big)
  expect_true(all(lay$edges$label == ""))
  # highlighted edges keep their label
  lay <- plot_on_null(big, highlight = c(2, 5, 7, 3))
  hl <- lay$edges$highlighted
  expect_identical(as.numeric(lay$edges$label[hl]), round(lay$edges$weight[hl], 2))
  expect_true(all(lay$edges$label[!hl] == ""))
})

test_that("highlight marks exactly the edges and nodes of its paths", {
  net <- lecture_net()
  lay <- plot_on_null(net, highlight = c(1, 1, 1))
  e <- lay$edges
  expect_identical(which(e$highlighted),
                   which((e$layer == 1 & e$from == 1 & e$to == 1) |
                           (e$layer == 2 & e$from == 1 & e$to == 1)))
  expect_identical(e$path[e$highlighted], c(1L, 1L))
  expect_true(all(is.na(e$path[!e$highlighted])))
  n <- lay$nodes
  expect_identical(paste(n$layer, n$index)[n$highlighted], c("1 1", "2 1", "3 1"))

  # the lecture's three paths, and the same from input 2
  paths <- list(c(1, 1, 1), c(1, 2, 1), c(1, 3, 1), c(2, 1, 1), c(2, 2, 1), c(2, 3, 1))
  lay <- plot_on_null(net, highlight = paths[1:3])
  e <- lay$edges
  on_path <- (e$layer == 1 & e$from == 1) | e$layer == 2
  expect_identical(e$highlighted, on_path)
  expect_identical(e$path[e$layer == 1 & e$from == 1], 1:3) # to = 1, 2, 3
  expect_identical(e$path[e$layer == 2], 1:3) # from = 1, 2, 3
  lay <- plot_on_null(net, highlight = paths)
  expect_true(all(lay$edges$highlighted))
  expect_true(all(lay$nodes$highlighted))

  # a deeper network; integer-valued doubles and integers alike
  deep <- network(c(3, 4, 4, 2), seed = 7)
  p <- c(3, 2, 4, 2)
  lay <- plot_on_null(deep, highlight = p)
  e <- lay$edges
  expected <- (e$layer == 1 & e$from == 3 & e$to == 2) |
    (e$layer == 2 & e$from == 2 & e$to == 4) |
    (e$layer == 3 & e$from == 4 & e$to == 2)
  expect_identical(e$highlighted, expected)
  expect_identical(plot_on_null(deep, highlight = as.integer(p)), lay)
  expect_identical(plot_on_null(deep, highlight = list(p)), lay)
})

test_that("input labels nodes with the forward pass's values", {
  net <- lecture_net()
  x <- c(1, 2)
  lay <- plot_on_null(net, input = x)
  h <- plogis(matrix(x, 1) %*% lecture_w1)
  out <- plogis(h %*% lecture_w2)
  n <- lay$nodes
  expect_equal(n$value, c(x, h, out), tolerance = 1e-12)
  expect_equal(n$z, c(NA, NA, matrix(x, 1) %*% lecture_w1, h %*% lecture_w2), tolerance = 1e-12)
  expect_identical(as.numeric(n$label), round(c(x, h, out), 2))
  # the lecture's numbers: z = 1 * 0.11 + 2 * 0.62 = 1.35, a = sigmoid(1.35)
  expect_identical(n$label[n$layer == 2 & n$index == 1], "0.79")
  expect_identical(plot_on_null(net, input = x, digits = 4)$nodes$label[3:5],
                   formatC(round(c(h), 4), format = "f", digits = 4))

  # the same through forward()
  tr <- forward(net, matrix(x, 1), trace = TRUE)
  expect_equal(n$value[n$layer == 3], c(tr$a[[2]]))

  # one-row matrix, data frame, integer and named vectors give the same layout
  expect_identical(plot_on_null(net, input = matrix(x, 1)), lay)
  expect_identical(plot_on_null(net, input = data.frame(a = 1, b = 2)), lay)
  expect_identical(plot_on_null(net, input = 1:2), lay)
  expect_identical(plot_on_null(net, input = c(p = 1, q = 2)), lay)

  # with bias and other activations
  bnet <- network(weights = list(lecture_w1, lecture_w2), biases = list(c(0.1, -0.2, 0.3), 0.5),
                  activation = "relu", output = "identity")
  lay <- plot_on_null(bnet, input = c(1, -2), highlight = c(2, 3, 1))
  z1 <- matrix(c(1, -2), 1) %*% lecture_w1 + c(0.1, -0.2, 0.3)[col(matrix(0, 1, 3))]
  a1 <- pmax(z1, 0)
  out <- a1 %*% lecture_w2 + 0.5
  expect_equal(lay$nodes$value, c(1, -2, a1, out), tolerance = 1e-12)
  expect_identical(as.numeric(lay$nodes$label), round(c(1, -2, a1, out), 2))
  expect_identical(lay$nodes$bias, c(NA, NA, 0.1, -0.2, 0.3, 0.5))

  # missing values propagate as in base R
  lay <- plot_on_null(net, input = c(NA, 2))
  expect_identical(lay$nodes$label, c("NA", "2.00", "NA", "NA", "NA", "NA"))
})

test_that("without input, values are NA and biases are recorded", {
  lay <- plot_on_null(network(c(2, 3, 1), bias = TRUE, seed = 1))
  expect_true(all(is.na(lay$nodes$value)))
  expect_true(all(is.na(lay$nodes$z)))
  expect_identical(lay$nodes$bias, c(NA, NA, 0, 0, 0, 0))
})

test_that("plot() rejects bad highlight, input, digits and extra arguments", {
  pdf(NULL)
  on.exit(dev.off())
  net <- lecture_net()
  expect_error(plot(net, highlight = c(1, 1)), class = "fwdprop_error")
  expect_error(plot(net, highlight = c(1, 4, 1)), class = "fwdprop_error")
  expect_error(plot(net, highlight = c(0, 1, 1)), class = "fwdprop_error")
  expect_error(plot(net, highlight = c(1, 1, 2)), class = "fwdprop_error")
  expect_error(plot(net, highlight = c(1, 1.5, 1)), class = "fwdprop_error")
  expect_error(plot(net, highlight = c(1, NA, 1)), class = "fwdprop_error")
  expect_error(plot(net, highlight = "1-1-1"), class = "fwdprop_error")
  expect_error(plot(net, highlight = list()), class = "fwdprop_error")
  expect_error(plot(net, highlight = list(c(1, 1, 1), c(1, 2))), class = "fwdprop_error")
  expect_error(plot(net, highlight = matrix(1, 2, 3)), class = "fwdprop_error")
  expect_error(plot(net, input = c(1, 2, 3)), class = "fwdprop_error")
  expect_error(plot(net, input = matrix(1:6, ncol = 2)), class = "fwdprop_error")
  expect_error(plot(net, input = c("1", "2")), class = "fwdprop_error")
  expect_error(plot(net, input = data.frame(a = 1, b = "x")), class = "fwdprop_error")
  expect_error(plot(net, input = data.frame(a = 1:2, b = 3:4)), class = "fwdprop_error")
  expect_error(plot(net, input = list(1, 2)), class = "fwdprop_error")
  expect_error(plot(net, digits = -1), class = "fwdprop_error")
  expect_error(plot(net, digits = "2"), class = "fwdprop_error")
  expect_error(plot(net, col = "red"), class = "fwdprop_error")

  expect_snapshot(error = TRUE, {
    plot(net, highlight = c(1, 1))
    plot(net, highlight = c(1, 4, 1))
    plot(net, highlight = list(c(1, 1, 1), c(2, 1, 2)))
    plot(net, highlight = c(1, NA, 1))
    plot(net, highlight = c(1, 2.5, 1))
    plot(net, highlight = "1-1-1")
    plot(net, highlight = list())
    plot(net, input = c(1, 2, 3))
    plot(net, input = matrix(1:6, ncol = 2))
    plot(net, input = c("1", "2"))
    plot(net, input = data.frame(a = 1, b = "x"))
    plot(net, digits = -1)
    plot(net, col = "red")
  })
})

test_that("a bad call leaves the device and par() as they were", {
  pdf(NULL)
  on.exit(dev.off())
  dev <- dev.cur()
  mar <- par("mar")
  expect_error(plot(lecture_net(), highlight = c(9, 9, 9)), class = "fwdprop_error")
  expect_identical(dev.cur(), dev)
  expect_identical(par("mar"), mar)
})
