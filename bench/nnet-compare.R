# mlp() against nnet on classification and regression data sets, over 5
# seeds and random 70/30 splits, with the training article's recipes:
#   adam: mlp(y ~ ., hidden, decay, epochs = 300, validation = 0.2, patience = 30)
#   bfgs: mlp(y ~ ., hidden, decay, optimizer = "bfgs", maxit = 500)
#   nnet: nnet(y ~ ., size = hidden, decay, maxit = 500) (inputs scaled for nnet too)
# Run: Rscript bench/nnet-compare.R   (writes bench/nnet-compare-results.md)
suppressPackageStartupMessages({library(fwdprop); library(nnet); library(mlbench); library(MASS)})
data(Glass); data(Vehicle); data(BostonHousing); data(Sonar); data(Ionosphere)
Ionosphere$V2 <- NULL; Ionosphere$V1 <- as.numeric(Ionosphere$V1)
sets <- list(
  Glass = list(d = Glass, y = "Type", hidden = 10, decay = 0.01),
  Vehicle = list(d = Vehicle, y = "Class", hidden = 10, decay = 0.01),
  Pima = list(d = rbind(Pima.tr, Pima.te), y = "type", hidden = 5, decay = 0.01),
  Sonar = list(d = Sonar, y = "Class", hidden = 10, decay = 0.01),
  Ionosphere = list(d = Ionosphere, y = "Class", hidden = 10, decay = 0.01),
  Boston = list(d = BostonHousing, y = "medv", hidden = 10, decay = 0.01)
)
one <- function(s, seed) {
  set.seed(seed)
  d <- s$d; n <- nrow(d); rows <- sample(n, round(0.7 * n))
  tr <- d[rows, ]; te <- d[-rows, ]
  f <- stats::as.formula(paste(s$y, "~ ."))
  reg <- is.numeric(d[[s$y]])
  score <- function(p) if (reg) sqrt(mean((p - te[[s$y]])^2)) else mean(p == te[[s$y]])
  pa <- mlp(f, tr, hidden = s$hidden, decay = s$decay, epochs = 300, validation = 0.2,
            patience = 30, seed = seed, verbose = FALSE)
  pb <- mlp(f, tr, hidden = s$hidden, decay = s$decay, optimizer = "bfgs", maxit = 500,
            seed = seed, verbose = FALSE)
  # nnet on the same scaled inputs (nnet does not scale)
  num <- vapply(tr, is.numeric, logical(1)) & names(tr) != s$y
  mu <- vapply(tr[num], mean, 0); sdv <- vapply(tr[num], sd, 0); sdv[sdv == 0] <- 1
  trs <- tr; tes <- te
  trs[num] <- Map(function(v, m, s) (v - m) / s, tr[num], mu, sdv)
  tes[num] <- Map(function(v, m, s) (v - m) / s, te[num], mu, sdv)
  if (reg) {
    ym <- mean(tr[[s$y]]); ys <- sd(tr[[s$y]]); trs[[s$y]] <- (tr[[s$y]] - ym) / ys
    nn <- nnet(f, trs, size = s$hidden, decay = s$decay, maxit = 500, linout = TRUE, trace = FALSE, MaxNWts = 1e5)
    pn <- predict(nn, tes) * ys + ym
  } else {
    nn <- nnet(f, trs, size = s$hidden, decay = s$decay, maxit = 500, trace = FALSE, MaxNWts = 1e5)
    pn <- factor(predict(nn, tes, type = "class"), levels(d[[s$y]]))
  }
  type <- if (reg) "response" else "class"
  c(adam = score(as.vector(if (reg) predict(pa, te) else predict(pa, te, type = type))),
    bfgs = score(as.vector(if (reg) predict(pb, te) else predict(pb, te, type = type))),
    nnet = score(if (reg) as.vector(pn) else pn))
}
rows <- lapply(names(sets), function(nm) {
  r <- t(vapply(1:5, function(seed) one(sets[[nm]], seed), numeric(3)))
  data.frame(data = nm, metric = if (is.numeric(sets[[nm]]$d[[sets[[nm]]$y]])) "RMSE" else "accuracy",
             adam = mean(r[, 1]), bfgs = mean(r[, 2]), nnet = mean(r[, 3]))
})
res <- do.call(rbind, rows)
res[3:5] <- lapply(res[3:5], round, 3)
print(res)
out <- c("# mlp() against nnet (bench/nnet-compare.R)", "",
         sprintf("Mean over 5 seeds of random 70/30 splits; %s.", format(Sys.time(), "%Y-%m-%d")), "",
         knitr::kable(res, format = "pipe"))
if (!interactive()) writeLines(out, "bench/nnet-compare-results.md")
