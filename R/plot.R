#' Draw a network diagram
#'
#' `plot()` draws a network as the lecture's figure: layers from left to
#' right, input nodes green, hidden nodes grey and output nodes red. Each
#' edge carries its weight: blue for positive and red for negative weights,
#' wider and more opaque the larger `|weight|` is relative to the largest in
#' its layer, and labelled with the weight rounded to `digits`. A path, or
#' several, can be highlighted (the lecture's "example path 1" is
#' `highlight = c(1, 1, 1)`), and one sample can be sent through the network
#' to label every node with its value.
#'
#' The diagram is drawn with base R graphics on the current device (no new
#' device is opened, so it renders in R Markdown and knitr chunks); any
#' [par()] setting it changes is restored.
#'
#' Larger networks stay readable: edge labels are left off when the network
#' has more than 40 edges (highlighted edges keep theirs), and node labels,
#' bias and `z` notes are left off when the nodes are too small for them.
#' Node labels are the node's value when `input` is given, otherwise its
#' index in the layer. When `input` is given, each hidden and output node
#' also shows `z` (the value before the activation) beneath it, and each
#' node with a bias shows it as `b`, when there is room.
#'
#' @param x A network from [network()]. Like [forward()], `plot()` first
#'   checks it, and refuses a network whose parts were edited by hand into
#'   an inconsistent state with an error naming the broken part.
#' @param input `NULL`, or one sample to send through the network: a numeric
#'   vector with one value per input node (`x$sizes[1]`), or a one-row
#'   matrix or data frame. Nodes are then labelled with the input values and
#'   each layer's activation `a`, from [forward()] with `trace = TRUE`.
#'   For a fitted network, `"history"` plots its training history instead
#'   (see [plot.fwdprop_history()]).
#' @param highlight `NULL`, or a path to draw in colour over the faded rest
#'   of the network: an integer vector with one node index per layer (input
#'   first), so `c(1, 2, 1)` runs from input 1 through hidden node 2 to
#'   output 1. A list of such vectors highlights several paths, each in its
#'   own colour.
#' @param digits Digits for the weights and values shown.
#' @param ... `main`, a title drawn above the diagram.
#' @return Invisibly, the layout: a list with
#'   * `nodes`, a data frame with one row per node: `layer` (1 for the input
#'     layer, up to `length(x$sizes)`), `index` (the node within its layer,
#'     from the top), `x`, `y` (user coordinates of the centre), `colour`
#'     (the fill colour, before any fading), `label` (the text drawn in the
#'     node, `""` if none), `value` (the input value or activation `a` when
#'     `input` is given, else `NA`), `z` (the value before the activation,
#'     `NA` for inputs or without `input`), `bias` (`NA` where none) and
#'     `highlighted` (on a highlighted path).
#'   * `edges`, a data frame with one row per weight, in the order of the
#'     layers and then of `as.vector(x$weights[[layer]])`: `layer` (the
#'     weight matrix), `from`, `to` (node indices, so `weight` is
#'     `x$weights[[layer]][from, to]`), `weight`, `x0`, `y0`, `x1`, `y1`
#'     (the ends of the line), `highlighted`, `path` (the first highlighted
#'     path through the edge, `NA` if none) and `label` (the text drawn,
#'     `""` if none).
#' @seealso [network()], [forward()]
#' @export
#' @examples
#' net <- network(weights = list(
#'   matrix(c(0.11, 0.62, 0.62, 0.86, 0.64, 0.01), 2),
#'   matrix(c(0.23, 0.67, 0.28), 3)
#' ))
#' plot(net)
#'
#' # the lecture's example path 1 for the first sample, (1, 2)
#' plot(net, input = c(1, 2), highlight = c(1, 1, 1))
#'
#' # the three paths from input 1 to the output
#' layout <- plot(net, highlight = list(c(1, 1, 1), c(1, 2, 1), c(1, 3, 1)))
#' layout$edges
#'
#' # a larger network: edge labels are left off
#' plot(network(c(4, 16, 16, 3), init = "normal", seed = 1))
plot.fwdprop_network <- function(x, input = NULL, highlight = NULL, digits = 2, ...) {
  call <- sys.call()
  if (identical(input, "history")) {
    # plot(fitted, "history"): the loss curves of a fitted network
    h <- x[["history"]]
    if (!inherits(h, "fwdprop_history")) {
      fwdprop_error("`x` has no training history: only networks from `fit()` or `mlp()` have one.",
                    call = call)
    }
    return(plot(h, ...))
  }
  net <- check_network(x, "x", call = call)
  sizes <- net$sizes
  L <- length(sizes) - 1L
  dots <- list(...)
  main <- plot_dots_main(dots, call = call)
  digits <- check_digits(digits, call = call)
  paths <- check_highlight(highlight, sizes, call = call)
  trace <- NULL
  if (!is.null(input)) {
    input <- check_plot_input(input, sizes[[1L]], call = call)
    trace <- forward(net, input, trace = TRUE)
  }

  nodes <- plot_nodes(net, sizes, trace, paths)
  edges <- plot_edges(net, sizes, nodes, paths)
  nodes$label <- if (is.null(trace)) as.character(nodes$index) else format_number(nodes$value, digits)
  edges$label <- format_number(edges$weight, digits)

  # --- set up the plotting region --------------------------------------
  op <- graphics::par(mar = c(0.6, 0.6, if (is.null(main)) 3.2 else 4.6, 0.6), xpd = NA)
  on.exit(graphics::par(op), add = TRUE)
  M <- max(sizes)
  graphics::plot.new()
  graphics::plot.window(xlim = c(0.55, L + 1.45), ylim = c(-(M - 1) / 2 - 0.55, (M - 1) / 2 + 0.45))
  usr <- graphics::par("usr")
  pin <- graphics::par("pin")
  in_x <- pin[[1L]] / (usr[[2L]] - usr[[1L]]) # inches per user unit
  in_y <- pin[[2L]] / (usr[[4L]] - usr[[3L]])
  # node diameter in inches: room between nodes of a layer and between layers
  diam <- min(0.62, 0.85 * in_y, 0.3 * in_x)
  rx <- diam / 2 / in_x
  ry <- diam / 2 / in_y
  gap <- in_y - diam # free inches between two nodes of a layer

  # --- edges ------------------------------------------------------------
  n_edges <- nrow(edges)
  # Edge labels: placed on an even grid per layer (see edge_label_position());
  # a layer's labels are shown when the network has at most 40 edges and
  # the grid leaves room for them at a readable size. Highlighted edges
  # always keep their label.
  pos <- edge_label_position(edges, sizes)
  fits <- rep(FALSE, n_edges)
  edge_cex <- 0.65
  if (n_edges <= 40L) {
    for (edge_cex in c(0.75, 0.65, 0.55)) {
      fits <- edge_labels_fit(edges, pos, edge_cex, diam, in_x, in_y)
      if (all(fits)) break
    }
  }
  show_edge_label <- fits | edges$highlighted
  edges$label[!show_edge_label] <- ""
  # labels that must be shown off the grid still clear the nodes
  label_t <- pos$t
  if (any(show_edge_label)) {
    s <- which(show_edge_label)
    t_min <- (diam / 2 + graphics::strwidth(edges$label[s], units = "inches", cex = edge_cex) / 2 +
                0.05) / in_x
    t_min <- pmin(t_min, 0.5)
    label_t[s] <- ifelse(pos$t[s] < 0.5, pmax(pos$t[s], t_min), pmin(pos$t[s], 1 - t_min))
  }

  rel <- edges$weight
  for (l in seq_len(L)) {
    in_l <- edges$layer == l
    w <- abs(edges$weight[in_l])
    top <- suppressWarnings(max(w[is.finite(w)]))
    r <- if (is.finite(top) && top > 0) pmin(w / top, 1) else rep(0, length(w))
    r[is.na(r)] <- 0
    rel[in_l] <- r
  }
  sign_col <- ifelse(is.na(edges$weight), "#7F7F7F",
                     ifelse(edges$weight >= 0, "#2166AC", "#D6604D"))
  width_scale <- if (n_edges > 200L) 0.5 else if (n_edges > 40L) 0.75 else 1
  lwd <- (0.6 + 3.2 * rel) * width_scale
  # many overlapping edges would paint a solid area: thin them out
  per_layer <- as.double(sizes[-(L + 1L)]) * sizes[-1L]
  density <- pmax(0.15, pmin(1, sqrt(60 / per_layer[edges$layer])))
  alpha <- (0.3 + 0.7 * rel) * density
  any_hl <- length(paths) > 0L
  if (any_hl) {
    alpha <- ifelse(edges$highlighted, 1, (0.12 + 0.18 * rel) * density)
    lwd <- ifelse(edges$highlighted, pmax(lwd, 1.5) + 0.8, lwd)
  }
  edge_col <- fade(sign_col, alpha)
  order_draw <- order(edges$highlighted) # highlighted last, on top
  if (any_hl) {
    hl <- which(edges$highlighted)
    graphics::segments(edges$x0[hl], edges$y0[hl], edges$x1[hl], edges$y1[hl],
                       col = grDevices::adjustcolor(path_colours(edges$path[hl]), alpha.f = 0.7),
                       lwd = lwd[hl] + 7, lend = 1)
  }
  i <- order_draw
  graphics::segments(edges$x0[i], edges$y0[i], edges$x1[i], edges$y1[i],
                     col = edge_col[i], lwd = lwd[i], lty = ifelse(is.na(edges$weight[i]), 2L, 1L))
  if (any(nzchar(edges$label))) {
    lab <- which(nzchar(edges$label))
    lab <- lab[order(edges$highlighted[lab])]
    t <- label_t[lab]
    lx <- edges$x0[lab] + t * (edges$x1[lab] - edges$x0[lab])
    ly <- edges$y0[lab] + t * (edges$y1[lab] - edges$y0[lab])
    faded <- any_hl & !edges$highlighted[lab]
    text_col <- ifelse(is.na(edges$weight[lab]), "#555555",
                       ifelse(edges$weight[lab] >= 0, "#15457A", "#A2392A"))
    text_col[faded] <- fade(text_col[faded], 0.45)
    label_boxes(lx, ly, edges$label[lab], cex = edge_cex, col = text_col,
                fill = grDevices::adjustcolor("white", alpha.f = if (any_hl) 0.8 else 0.85),
                border = ifelse(faded, NA, grDevices::adjustcolor(sign_col[lab], alpha.f = 0.6)),
                font = ifelse(edges$highlighted[lab], 2L, 1L))
  }

  nodes <- draw_nodes(nodes, L, rx, ry, diam, gap, digits, any_hl)
  draw_titles(net, L, main)

  nodes <- nodes[c("layer", "index", "x", "y", "colour", "label", "value", "z", "bias", "highlighted")]
  invisible(list(nodes = nodes, edges = edges))
}

# The nodes of the diagram: circles, their labels (values or indices) and,
# where there is room, the z and bias notes beneath. Returns `nodes` with
# the labels actually drawn.
draw_nodes <- function(nodes, L, rx, ry, diam, gap, digits, any_hl) {
  fill <- nodes$colour
  border <- rep("#333333", nrow(nodes))
  if (any_hl) {
    off <- !nodes$highlighted
    fill[off] <- lighten(fill[off], 0.6)
    border[off] <- "#AAAAAA"
  }
  circles(nodes$x, nodes$y, rx, ry, col = fill, border = border,
          lwd = ifelse(nodes$highlighted, 2.2, 1.2))
  widest <- nodes$label[which.max(nchar(nodes$label))]
  node_cex <- min(1, 0.82 * diam / max(graphics::strwidth(widest, units = "inches", cex = 1),
                                       graphics::strwidth("00", units = "inches", cex = 1)))
  if (node_cex >= 0.6) {
    label_col <- ifelse(nodes$layer == L + 1L, "white", "black")
    if (any_hl) {
      label_col[!nodes$highlighted] <- "#888888"
    }
    graphics::text(nodes$x, nodes$y, nodes$label, cex = node_cex, col = label_col,
                   font = ifelse(nodes$highlighted, 2L, 1L))
  } else {
    nodes$label <- ""
  }
  # z and bias notes beneath the nodes, when there is room
  notes <- node_notes(nodes, digits)
  note_cex <- min(0.7, max(0.5, node_cex * 0.75))
  note_h <- graphics::strheight("0", units = "inches", cex = note_cex)
  n_lines <- max(0L, lengths(regmatches(notes, gregexpr("\n", notes))) + nzchar(notes))
  if (n_lines > 0L && gap > (n_lines + 0.8) * 1.35 * note_h && node_cex >= 0.6) {
    has <- nzchar(notes)
    graphics::text(nodes$x[has], nodes$y[has] - ry * 1.12, notes[has], adj = c(0.5, 1),
                   cex = note_cex, col = if (any_hl) "#666666" else "#444444")
  }

  nodes
}

# The layers' titles above the diagram, and the user's `main`.
draw_titles <- function(net, L, main) {
  sizes <- net$sizes
  titles <- layer_titles(L)
  graphics::mtext(titles, side = 3, line = 1.35, at = seq_len(L + 1L), cex = 0.95, font = 2)
  sub <- c(sprintf("%d node%s", sizes[[1L]], if (sizes[[1L]] == 1L) "" else "s"),
           sprintf("%d node%s, %s", sizes[-1L], ifelse(sizes[-1L] == 1L, "", "s"), net$activations))
  graphics::mtext(sub, side = 3, line = 0.3, at = seq_len(L + 1L), cex = 0.75, col = "#555555")
  if (!is.null(main)) {
    graphics::title(main = main, line = 3)
  }
}

# The `main` title out of `...`; anything else is an error.
plot_dots_main <- function(dots, call = sys.call(-1L)) {
  nm <- names(dots)
  if (is.null(nm)) nm <- rep("", length(dots))
  bad <- nm != "main"
  if (any(bad)) {
    what <- ifelse(nzchar(nm[bad]), sprintf("`%s`", nm[bad]), "an unnamed argument")
    fwdprop_error(sprintf(
      "`plot()` for a network takes `input`, `highlight`, `digits` and `main`; unknown: %s.",
      paste(what, collapse = ", ")
    ), call = call)
  }
  main <- dots$main
  if (!is.null(main) && !(is.character(main) || is.expression(main) || is.call(main))) {
    main <- as.character(main)
  }
  main
}

# `highlight` as a list of integer paths (one node index per layer).
check_highlight <- function(highlight, sizes, call = sys.call(-1L)) {
  if (is.null(highlight)) {
    return(list())
  }
  n_layers <- length(sizes)
  example <- paste0("c(", paste(rep(1L, n_layers), collapse = ", "), ")")
  single <- !is.list(highlight)
  paths <- if (single) list(highlight) else highlight
  if (is.data.frame(highlight) || length(paths) == 0L) {
    fwdprop_error(sprintf(
      "`highlight` must be a path such as `%s` or a list of paths, not %s.",
      example, if (length(paths) == 0L) "an empty list" else describe_object(highlight)
    ), call = call)
  }
  for (p in seq_along(paths)) {
    path <- paths[[p]]
    arg <- if (single) "highlight" else sprintf("highlight[[%d]]", p)
    if (!is.numeric(path) || !is.null(dim(path)) || is.factor(path)) {
      fwdprop_error(sprintf(
        "`%s` must be a vector of whole node indices, one per layer, such as `%s`, not %s.",
        arg, example, describe_value(path)
      ), call = call)
    }
    bad <- is.na(path) | !is.finite(path) | path != floor(path)
    if (any(bad)) {
      k <- which(bad)[[1L]]
      fwdprop_error(sprintf(
        "`%s[%d]` is %s, but node indices are whole numbers, such as `%s`.",
        arg, k, describe_value(path[[k]]), example
      ), call = call)
    }
    if (length(path) != n_layers) {
      fwdprop_error(sprintf(
        "`%s` must have one node index per layer (%d, input to output), not %d.",
        arg, n_layers, length(path)
      ), call = call)
    }
    bad <- path < 1 | path > sizes
    if (any(bad)) {
      k <- which(bad)[[1L]]
      fwdprop_error(sprintf(
        "`%s[%d]` is %s, but layer %d (%s) has %s.",
        arg, k, format(path[[k]], scientific = FALSE), k, layer_titles(n_layers - 1L)[[k]],
        if (sizes[[k]] == 1L) "only node 1" else sprintf("nodes 1 to %d", sizes[[k]])
      ), call = call)
    }
    paths[[p]] <- as.integer(path)
  }
  unname(paths)
}

# One sample as a 1-row double matrix with n_in columns.
check_plot_input <- function(input, n_in, call = sys.call(-1L)) {
  wanted <- sprintf(
    "`input` must be one sample: a numeric vector of length %d or a one-row matrix or data frame",
    n_in
  )
  if (is.data.frame(input)) {
    ok <- vapply(input, function(col) is_numeric_storage(col) && is.null(dim(col)), logical(1L))
    if (!all(ok)) {
      fwdprop_error(sprintf("%s, but column%s %s of the data frame %s not numeric.",
                            wanted, if (sum(!ok) > 1L) "s" else "",
                            paste0("`", names(input)[!ok], "`", collapse = ", "),
                            if (sum(!ok) > 1L) "are" else "is"), call = call)
    }
    if (nrow(input) != 1L) {
      fwdprop_error(sprintf("%s, not a data frame with %d rows. Pick one row, e.g. `input = df[1, ]`.",
                            wanted, nrow(input)), call = call)
    }
    input <- matrix(as.double(unlist(input, use.names = FALSE)), nrow = 1L)
  } else if (is.matrix(input)) {
    if (!is_numeric_storage(input)) {
      fwdprop_error(sprintf("%s, not %s.", wanted, describe_object(input)), call = call)
    }
    if (nrow(input) != 1L) {
      fwdprop_error(sprintf("%s, not a %s matrix. Pick one row, e.g. `input = X[1, ]`.",
                            wanted, shape_string(input)), call = call)
    }
  } else if (is.atomic(input) && is.null(dim(input)) && is_numeric_storage(input)) {
    input <- matrix(input, nrow = 1L)
  } else {
    fwdprop_error(sprintf("%s, not %s.", wanted, describe_value(input)), call = call)
  }
  storage.mode(input) <- "double"
  if (ncol(input) != n_in) {
    fwdprop_error(sprintf("`input` has %d value%s but the network has %d input node%s.",
                          ncol(input), if (ncol(input) == 1L) "" else "s",
                          n_in, if (n_in == 1L) "" else "s"), call = call)
  }
  dimnames(input) <- NULL
  input
}

layer_titles <- function(L) {
  c("input", if (L > 1L) {
    if (L == 2L) "hidden" else sprintf("hidden %d", seq_len(L - 1L))
  }, "output")
}

plot_nodes <- function(net, sizes, trace, paths) {
  L <- length(sizes) - 1L
  layer <- rep(seq_len(L + 1L), sizes)
  index <- sequence(sizes)
  n <- sizes[layer]
  y <- (n + 1) / 2 - index
  colour <- ifelse(layer == 1L, "#5DBB63", ifelse(layer == L + 1L, "#E0413A", "#C8C8C8"))
  value <- rep(NA_real_, length(layer))
  z <- rep(NA_real_, length(layer))
  if (!is.null(trace)) {
    value <- c(as.vector(trace$x), unlist(lapply(trace$a, as.vector), use.names = FALSE))
    z <- c(rep(NA_real_, sizes[[1L]]), unlist(lapply(trace$z, as.vector), use.names = FALSE))
  }
  bias <- c(rep(NA_real_, sizes[[1L]]), unlist(lapply(seq_len(L), function(l) {
    b <- net$biases[[l]]
    if (is.null(b)) rep(NA_real_, sizes[[l + 1L]]) else as.double(b)
  }), use.names = FALSE))
  highlighted <- rep(FALSE, length(layer))
  for (p in paths) {
    highlighted[match(paste(seq_along(p), p), paste(layer, index))] <- TRUE
  }
  data.frame(layer = layer, index = index, x = as.double(layer), y = y, colour = colour,
             label = "", value = value, z = z, bias = bias, highlighted = highlighted,
             stringsAsFactors = FALSE)
}

plot_edges <- function(net, sizes, nodes, paths) {
  L <- length(sizes) - 1L
  parts <- lapply(seq_len(L), function(l) {
    from <- rep(seq_len(sizes[[l]]), times = sizes[[l + 1L]])
    to <- rep(seq_len(sizes[[l + 1L]]), each = sizes[[l]])
    data.frame(layer = l, from = from, to = to, weight = as.vector(net$weights[[l]]))
  })
  edges <- do.call(rbind, parts)
  key <- paste(nodes$layer, nodes$index)
  src <- match(paste(edges$layer, edges$from), key)
  dst <- match(paste(edges$layer + 1L, edges$to), key)
  edges$x0 <- nodes$x[src]
  edges$y0 <- nodes$y[src]
  edges$x1 <- nodes$x[dst]
  edges$y1 <- nodes$y[dst]
  path <- rep(NA_integer_, nrow(edges))
  ekey <- paste(edges$layer, edges$from, edges$to)
  for (p in rev(seq_along(paths))) {
    hp <- paths[[p]]
    path[match(paste(seq_len(L), hp[-(L + 1L)], hp[-1L]), ekey)] <- p
  }
  edges$highlighted <- !is.na(path)
  edges$path <- path
  edges$label <- ""
  rownames(edges) <- NULL
  edges
}

# Where along its edge (0 = source, 1 = target) each label sits. Between a
# layer of n_from nodes and one of n_to nodes (one unit apart), labels at
# t = 1 / (n_to + 1) from the sources lie on an even vertical grid with step
# t, all distinct; when the layer fans in (n_to < n_from), labels sit at the
# same distance from the targets instead, which gives the wider step.
# Returns t and the grid step (in user units) for every edge.
edge_label_position <- function(edges, sizes) {
  n_from <- sizes[edges$layer]
  n_to <- sizes[edges$layer + 1L]
  fan_in <- n_to < n_from
  step <- ifelse(fan_in, 1 / (n_from + 1), 1 / (n_to + 1))
  list(t = ifelse(fan_in, 1 - step, step), step = step)
}

# For each edge, whether the labels of its layer fit on their grid at size
# `cex`: grid step above the label height, and clear of the nodes.
edge_labels_fit <- function(edges, pos, cex, diam, in_x, in_y) {
  h <- graphics::strheight("0", units = "inches", cex = cex) * 1.9
  w <- graphics::strwidth(edges$label, units = "inches", cex = cex) * 1.15
  near <- pmin(pos$t, 1 - pos$t) * in_x # inches from the nearer node's centre
  ok <- pos$step * in_y >= h & near >= diam / 2 + w / 2 + 0.08
  as.logical(stats::ave(ok, edges$layer, FUN = all))
}

# Colours with transparency alpha (recycled); keeps zero-length input.
fade <- function(col, alpha) {
  if (length(col) == 0L) {
    return(character(0L))
  }
  rgb <- grDevices::col2rgb(col, alpha = TRUE)
  grDevices::rgb(rgb[1L, ], rgb[2L, ], rgb[3L, ], alpha = rgb[4L, ] * rep_len(alpha, length(col)),
                 maxColorValue = 255)
}

# Opaque colours mixed with white (amount 0 = unchanged, 1 = white), so
# edges do not show through faded nodes.
lighten <- function(col, amount) {
  if (length(col) == 0L) {
    return(character(0L))
  }
  rgb <- grDevices::col2rgb(col)
  rgb <- rgb + (255 - rgb) * amount
  grDevices::rgb(rgb[1L, ], rgb[2L, ], rgb[3L, ], maxColorValue = 255)
}

path_colours <- function(p) {
  pal <- c("#FFB000", "#DC267F", "#785EF0", "#FE6100", "#648FFF", "#2CA02C")
  pal[(p - 1L) %% length(pal) + 1L]
}

# "0.62", "-1.30", "NA"; -0 shows as 0.
format_number <- function(v, digits) {
  out <- formatC(round(v, digits) + 0, format = "f", digits = digits)
  out[is.na(v)] <- ifelse(is.nan(v[is.na(v)]), "NaN", "NA")
  out[is.infinite(v)] <- ifelse(v[is.infinite(v)] > 0, "Inf", "-Inf")
  out
}

node_notes <- function(nodes, digits) {
  z <- ifelse(is.na(nodes$z) & !is.nan(nodes$z), "", paste0("z = ", format_number(nodes$z, digits)))
  z[nodes$layer == 1L] <- ""
  if (all(is.na(nodes$value))) z[] <- ""
  b <- ifelse(is.na(nodes$bias), "", paste0("b = ", format_number(nodes$bias, digits)))
  ifelse(nzchar(z) & nzchar(b), paste(z, b, sep = "\n"), paste0(z, b))
}

# Filled ellipses that are circles on the device: radii rx, ry in user units.
circles <- function(x, y, rx, ry, col, border, lwd) {
  theta <- seq(0, 2 * pi, length.out = 61L)
  for (i in seq_along(x)) {
    graphics::polygon(x[[i]] + rx * cos(theta), y[[i]] + ry * sin(theta),
                      col = col[[i]], border = border[[i]], lwd = lwd[[i]])
  }
}

# Text with a filled box behind it.
label_boxes <- function(x, y, labels, cex, col, fill, border, font) {
  w <- graphics::strwidth(labels, cex = cex) * 1.15 + graphics::strwidth("0", cex = cex) * 0.3
  h <- graphics::strheight("0", cex = cex) * 1.7
  graphics::rect(x - w / 2, y - h / 2, x + w / 2, y + h / 2, col = fill, border = border, lwd = 0.8)
  graphics::text(x, y, labels, cex = cex, col = col, font = font)
}
