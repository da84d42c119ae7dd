# The lecture's section 3 network: set.seed(1234), then the 12 runif()
# draws of sections 1 and 2, then beta (2x3) and gamma (3x1). R's own
# random stream is left as it was.
lecture_weights <- function() {
  old_seed <- if (exists(".Random.seed", globalenv())) get(".Random.seed", globalenv())
  on.exit(if (is.null(old_seed)) rm(".Random.seed", envir = globalenv()) else
    assign(".Random.seed", old_seed, envir = globalenv()))
  set.seed(1234)
  stats::runif(12)
  list(beta = matrix(stats::runif(6), ncol = 3), gamma = matrix(stats::runif(3), ncol = 1))
}
