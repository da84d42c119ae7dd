# Learning-rate schedules against PyTorch's definitions, written in base R
# (torch.optim.lr_scheduler, stepped once per epoch; epochs from 0).

sched_data <- function() {
  set.seed(21)
  x <- matrix(rnorm(60), 30)
  y <- matrix(rnorm(30), 30)
  net <- network(c(2, 3, 1), activation = "tanh", output = "identity", bias = TRUE, init = "normal", seed = 6)
  list(x = x, y = y, net = net)
}

test_that("step, exponential and cosine schedules follow PyTorch's formulas epoch by epoch", {
  d <- sched_data()
  lr0 <- 0.2
  epoch <- 0:12
  cases <- list(
    list(schedule_step(step_size = 4, gamma = 0.5), lr0 * 0.5^floor(epoch / 4)),       # StepLR
    list(schedule_exponential(gamma = 0.8), lr0 * 0.8^epoch),                         # ExponentialLR
    list(schedule_cosine(T_max = 5, eta_min = 0.01),                                   # CosineAnnealingLR
         0.01 + (lr0 - 0.01) * (1 + cos(pi * epoch / 5)) / 2),
    list("constant", rep(lr0, 13))
  )
  for (case in cases) {
    f <- fit(d$net, d$x, d$y, optimizer = "sgd", epochs = 13, batch_size = 10, learn_rate = lr0,
             lr_schedule = case[[1]], seed = 1, verbose = FALSE)
    expect_equal(f$history$lr, case[[2]], tolerance = 1e-15)
  }
  # cosine's T_max defaults to the epochs; names stand for the defaults
  f <- fit(d$net, d$x, d$y, epochs = 8, learn_rate = lr0, lr_schedule = "cosine", seed = 1, verbose = FALSE)
  expect_equal(f$history$lr, lr0 * (1 + cos(pi * (0:7) / 8)) / 2, tolerance = 1e-15)
  f <- fit(d$net, d$x, d$y, epochs = 12, learn_rate = lr0, lr_schedule = "step", seed = 1, verbose = FALSE)
  expect_equal(f$history$lr, lr0 * 0.1^floor((0:11) / 10), tolerance = 1e-15)
})

test_that("each epoch's steps use that epoch's rate (full-batch sgd by hand with backward())", {
  d <- sched_data()
  f <- fit(d$net, d$x, d$y, optimizer = "sgd", epochs = 3, batch_size = 30, learn_rate = 0.1,
           lr_schedule = schedule_exponential(gamma = 0.5), seed = 1, verbose = FALSE)
  net <- d$net
  for (lr in c(0.1, 0.05, 0.025)) {
    g <- backward(net, d$x, d$y)
    net$weights <- Map(function(w, gw) w - lr * gw, net$weights, g$weights)
    net$biases <- Map(function(b, gb) b - lr * gb, net$biases, g$biases)
  }
  for (l in 1:2) {
    expect_equal(unname(f$weights[[l]]), unname(net$weights[[l]]), tolerance = 1e-12)
    expect_equal(unname(f$biases[[l]]), unname(net$biases[[l]]), tolerance = 1e-12)
  }
})

# ReduceLROnPlateau(mode = "min", threshold_mode = "rel") in base R, from
# its documented rules, for a sequence of monitored losses: the rate of
# each epoch (the first is lr0; step() after each epoch).
plateau_reference <- function(losses, lr0, factor = 0.1, patience = 10, threshold = 1e-4, min_lr = 0,
                              cooldown = 0) {
  best <- Inf
  bad <- 0
  cool <- 0
  lr <- lr0
  out <- numeric(length(losses))
  for (i in seq_along(losses)) {
    out[i] <- lr
    if (losses[i] < best * (1 - threshold)) {
      best <- losses[i]
      bad <- 0
    } else {
      bad <- bad + 1
    }
    if (cool > 0) {
      cool <- cool - 1
      bad <- 0
    }
    if (bad > patience) {
      new <- max(lr * factor, min_lr)
      if (lr - new > 1e-8) lr <- new
      cool <- cooldown
      bad <- 0
    }
  }
  out
}

test_that("the plateau schedule reduces the rate as ReduceLROnPlateau on a crafted loss sequence", {
  # improves, then stalls (a gain under the relative threshold counts as
  # none), improves again, stalls again
  losses <- c(1, 0.9, 0.8, 0.79995, 0.8, 0.81, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.69, 0.7, 0.7, 0.7)
  run <- function(schedule, lr0) {
    st <- fwdprop:::schedule_start(schedule, lr0, length(losses))
    vapply(seq_along(losses), function(e) {
      lr <- st$lr
      fwdprop:::schedule_advance(st, e, losses[e])
      lr
    }, numeric(1))
  }
  # by hand, patience 2, factor 0.5: epochs 4, 5, 6 (0.79995 is within the
  # 1e-4 threshold of 0.8) are bad: the 3rd bad one (> patience) halves
  # the rate from epoch 7 on; 0.7 improves; epochs 8-10 are bad: halved
  # from epoch 11; 11-12 bad, 13 (0.69) improves; 14-16 bad: halved after
  # the last epoch
  want <- c(rep(1, 6), rep(0.5, 4), rep(0.25, 6))
  expect_equal(run(schedule_plateau(factor = 0.5, patience = 2), 1), want)
  expect_equal(run(schedule_plateau(factor = 0.5, patience = 2), 1), plateau_reference(losses, 1, 0.5, 2))
  for (args in list(list(0.1, 0), list(0.3, 1, 0.01, 0.05, 2), list(0.5, 3, 0, 0, 1))) {
    s <- do.call(schedule_plateau, args)
    expect_equal(run(s, 0.2), do.call(plateau_reference, c(list(losses, 0.2), args)))
  }
  # the default: patience 10, factor 0.1
  expect_equal(run(schedule_plateau(), 1), plateau_reference(losses, 1))
})

test_that("in fit() the plateau schedule watches val_loss when rows are held out, else the loss", {
  d <- sched_data()
  s <- schedule_plateau(factor = 0.5, patience = 0, threshold = 0.05)
  f <- fit(d$net, d$x, d$y, optimizer = "sgd", epochs = 15, batch_size = 5, learn_rate = 0.3,
           validation = 0.3, patience = NULL, lr_schedule = s, seed = 2, verbose = FALSE)
  expect_equal(f$history$lr, plateau_reference(f$history$val_loss, 0.3, 0.5, 0, 0.05))
  expect_lt(min(f$history$lr), 0.3)
  f <- fit(d$net, d$x, d$y, optimizer = "sgd", epochs = 15, batch_size = 5, learn_rate = 0.3,
           lr_schedule = s, seed = 2, verbose = FALSE)
  expect_equal(f$history$lr, plateau_reference(f$history$loss, 0.3, 0.5, 0, 0.05))
})

test_that("schedules train alike on 1, 2, 3 and 7 threads", {
  d <- sched_data()
  run <- function(threads) {
    f <- fit(d$net, d$x, d$y, epochs = 6, batch_size = 7, learn_rate = 0.05,
             lr_schedule = schedule_cosine(T_max = 3), seed = 4, threads = threads, verbose = FALSE)
    c(unlist(f$weights), unlist(f$biases), f$history$loss)
  }
  one <- run(1)
  for (t in c(2, 3, 7)) expect_identical(run(t), one)
})

test_that("schedules are checked where they are made and where they are used", {
  expect_error(schedule_step(step_size = 0), "`step_size` must be a whole number >= 1", class = "fwdprop_error")
  expect_error(schedule_step(gamma = -1), "`gamma` must be a single number > 0", class = "fwdprop_error")
  expect_error(schedule_exponential(gamma = NA), "`gamma`", class = "fwdprop_error")
  expect_error(schedule_cosine(T_max = 2.5), "`T_max` must be a whole number", class = "fwdprop_error")
  expect_error(schedule_cosine(eta_min = -1), "`eta_min` must be a single number >= 0", class = "fwdprop_error")
  expect_error(schedule_plateau(factor = 1), "`factor` must be a single number in \\(0, 1\\)",
               class = "fwdprop_error")
  expect_error(schedule_plateau(patience = -1), "`patience` must be a whole number >= 0", class = "fwdprop_error")
  expect_error(schedule_plateau(cooldown = 0.5), "`cooldown`", class = "fwdprop_error")
  expect_snapshot(print(schedule_step(step_size = 5, gamma = 0.5)))
  d <- sched_data()
  expect_error(fit(d$net, d$x, d$y, lr_schedule = "linear", verbose = FALSE), "`lr_schedule` must be",
               class = "fwdprop_error")
  expect_error(fit(d$net, d$x, d$y, lr_schedule = 0.5, verbose = FALSE), "`lr_schedule` must be",
               class = "fwdprop_error")
  expect_error(fit(d$net, d$x, d$y, optimizer = "bfgs", lr_schedule = schedule_step(), verbose = FALSE),
               "BFGS has none", class = "fwdprop_error")
})

test_that("the rates are PyTorch's own (values from torch's schedulers, fixtures/schedules-torch.py)", {
  ref <- utils::read.csv(test_path("fixtures", "schedules-torch.csv"))
  torch_lr <- function(name) ref$lr[ref$schedule == name]
  d <- sched_data()
  for (case in list(list("step", schedule_step(step_size = 4, gamma = 0.5)),
                    list("exponential", schedule_exponential(gamma = 0.8)),
                    list("cosine", schedule_cosine(T_max = 5, eta_min = 0.01)))) {
    f <- fit(d$net, d$x, d$y, optimizer = "sgd", epochs = 13, batch_size = 10, learn_rate = 0.2,
             lr_schedule = case[[2]], seed = 1, verbose = FALSE)
    # (torch's cosine is recursive: the same rates up to rounding)
    expect_equal(f$history$lr, torch_lr(case[[1]]), tolerance = 1e-12, info = case[[1]])
  }
  losses <- c(1, 0.9, 0.8, 0.79995, 0.8, 0.81, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.69, 0.7, 0.7, 0.7)
  run <- function(schedule, lr0) {
    st <- fwdprop:::schedule_start(schedule, lr0, length(losses))
    vapply(seq_along(losses), function(e) {
      lr <- st$lr
      fwdprop:::schedule_advance(st, e, losses[e])
      lr
    }, numeric(1))
  }
  expect_equal(run(schedule_plateau(factor = 0.5, patience = 2), 1), torch_lr("plateau_p2_f05"))
  expect_equal(run(schedule_plateau(), 1), torch_lr("plateau_default"))
  expect_equal(run(schedule_plateau(factor = 0.3, patience = 1, threshold = 0.01, min_lr = 0.05, cooldown = 2), 0.2),
               torch_lr("plateau_cooldown"))
})
