"""Fresh learner bugs for notebook 05 (optimizers), written from the release's prose alone."""
from bugs import Bug

SGD, ADA, ADAM, ADAMW, SCHED = "05.sgd_momentum", "05.adaptive", "05.adam", "05.adamw", "05.schedules"
BUF = 'buf = momentum * state.get("momentum_buffer", np.zeros_like(p)) + d'
DIRECTION = "direction = d + momentum * buf if nesterov else buf"
DECAY = "d = g + weight_decay * p                      # L2 weight decay joins the gradient"
SGD_RETURN = 'return p - lr * direction, {"momentum_buffer": buf}'
ADAGRAD_SUM = 'total = state.get("sum", np.zeros_like(p)) + d * d'
RMS_AVG = 'avg = alpha * state.get("square_avg", np.zeros_like(p)) + (1 - alpha) * d * d'
DECOUPLED = "return adam_step(p * (1 - lr * weight_decay), g, state, lr, betas, eps)"
COSINE = "return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * step / T_max)) / 2"

BUGS = [
    # ---- 5.1 SGD with momentum and Nesterov ----
    Bug("nesterov_with_raw_gradient", SGD, "sgd_momentum",
        ((DIRECTION, "direction = g + momentum * buf if nesterov else buf"),),
        cause="Nesterov steps along g + mu*buf with the raw gradient; it must use d = g + lambda p, the gradient "
              "with weight decay.",
        keywords=("d + μ", "g + μ", "raw gradient", "without weight decay"), category="formula"),
    Bug("nesterov_old_buffer", SGD, "sgd_momentum",
        ((BUF, 'old = state.get("momentum_buffer", np.zeros_like(p))\n    buf = momentum * old + d'),
         (DIRECTION, "direction = d + momentum * old if nesterov else buf")),
        cause="Nesterov looks ahead with the old buffer; it must use the buffer just updated.",
        keywords=("nesterov", "updated buffer", "old buffer", "just updated"), category="order"),
    Bug("weight_decay_outside_buffer", SGD, "sgd_momentum",
        ((DECAY, "d = g"), (SGD_RETURN, 'return p - lr * (direction + weight_decay * p), {"momentum_buffer": buf}')),
        cause="Weight decay is added to the step instead of to the gradient before the buffer update, so it "
              "never enters the momentum buffer.",
        keywords=("before the buffer", "into the buffer", "outside the buffer", "decay to the gradient"),
        category="order"),
    Bug("sutskever_form", SGD, "sgd_momentum",
        ((BUF, 'buf = momentum * state.get("momentum_buffer", np.zeros_like(p)) - lr * d'),
         (DIRECTION, "direction = -lr * d + momentum * buf if nesterov else buf"),
         (SGD_RETURN, 'return p + direction, {"momentum_buffer": buf}')),
        cause="The learning rate is kept inside the buffer (buf = mu buf - lr d; p += buf), the Sutskever form; "
              "torch keeps lr outside, which differs as soon as lr changes between steps.",
        keywords=("sutskever", "inside the buffer", "lr change", "learning-rate change"), category="order"),
    Bug("buffer_updated_in_place", SGD, "sgd_momentum",
        ((BUF, 'buf = state.get("momentum_buffer", np.zeros_like(p))\n    buf *= momentum\n    buf += d'),),
        cause="The momentum buffer of the given state is updated in place (*=, +=), which changes the caller's "
              "state; the rule must return new arrays.",
        keywords=("in place", "in-place", "mutat", "new array"), category="in-place"),
    # ---- 5.2 Adagrad and RMSprop ----
    Bug("adagrad_eps_inside_sqrt", ADA, "adaptive",
        (("d / (np.sqrt(total) + eps)", "d / np.sqrt(total + eps)"),),
        cause="eps is added inside the square root; torch adds it outside, sqrt(sum) + eps.",
        keywords=("eps inside", "inside the square root", "inside the sqrt", "outside"), category="formula"),
    Bug("adagrad_no_accumulation", ADA, "adaptive",
        ((ADAGRAD_SUM, "total = d * d"),),
        cause="Adagrad's sum is not accumulated: it keeps only this step's d^2 instead of adding it to the "
              "previous sum.",
        keywords=("accumulat", "previous sum", "not added", "sum of squares"), category="state"),
    Bug("rmsprop_alpha_swapped", ADA, "adaptive",
        ((RMS_AVG, 'avg = (1 - alpha) * state.get("square_avg", np.zeros_like(p)) + alpha * d * d'),),
        cause="The weights of RMSprop's moving average are swapped: alpha must multiply the old average and "
              "1 - alpha the new d^2.",
        keywords=("swap", "1 - alpha", "weights of the average"), category="swap"),
    Bug("rmsprop_default_alpha", ADA, "adaptive",
        (("def rmsprop_step(p, g, state, lr, alpha=0.99,", "def rmsprop_step(p, g, state, lr, alpha=0.9,"),),
        cause="The default alpha is 0.9 (Hinton's lecture); torch's default, asked for here, is 0.99.",
        keywords=("default", "0.99"), category="default"),
    # ---- 5.3 Adam ----
    Bug("adam_no_bias_correction", ADAM, "adam",
        (("m_hat = m / (1 - beta1 ** t)", "m_hat = m"), ("v_hat = v / (1 - beta2 ** t)", "v_hat = v")),
        cause="Adam's bias correction is left out: m and v are used without dividing by 1 - beta^t.",
        keywords=("bias correction", "bias-correct", "1 - beta"), category="missing-term"),
    Bug("adam_step_not_incremented", ADAM, "adam",
        (('t = state.get("step", 0) + 1', 't = state.get("step", 1)'),),
        cause="The step count t is read from the state but never incremented, so every step is corrected as "
              "if it were the first.",
        keywords=("increment", "step count", "never advances", "t stays"), category="state"),
    Bug("adam_eps_inside_sqrt", ADAM, "adam",
        (("np.sqrt(v_hat) + eps", "np.sqrt(v_hat + eps)"),),
        cause="eps is added inside the square root; Adam adds it outside, sqrt(v_hat) + eps.",
        keywords=("eps inside", "inside the square root", "inside the sqrt", "outside"), category="formula"),
    Bug("adam_stores_corrected", ADAM, "adam",
        (('{"step": t, "exp_avg": m, "exp_avg_sq": v}', '{"step": t, "exp_avg": m_hat, "exp_avg_sq": v_hat}'),),
        cause="The state stores the bias-corrected m_hat and v_hat instead of the raw averages m and v.",
        keywords=("corrected", "m_hat", "raw average", "stores"), category="state"),
    Bug("adam_v_corrected_with_beta1", ADAM, "adam",
        (("v_hat = v / (1 - beta2 ** t)", "v_hat = v / (1 - beta1 ** t)"),),
        cause="v's bias correction uses beta1; it must use beta2, the rate of v's own moving average.",
        keywords=("beta2", "beta1", "v_hat"), category="formula"),
    # ---- 5.4 AdamW ----
    Bug("adamw_shrinks_after_step", ADAMW, "adamw",
        ((DECOUPLED, "p_new, new_state = adam_step(p, g, state, lr, betas, eps)\n"
                     "        return p_new * (1 - lr * weight_decay), new_state"),),
        cause="The decoupled shrink is applied after the Adam step; torch shrinks p first, then takes the step.",
        keywords=("shrink first", "after the step", "before the step"), category="order"),
    Bug("adamw_modes_swapped", ADAMW, "adamw",
        (("if decoupled:", "if not decoupled:"),),
        cause="The two modes are swapped: decoupled=True must shrink the weights (AdamW), decoupled=False add "
              "lambda p to the gradient (Adam's L2).",
        keywords=("swap", "decoupled=true", "decoupled=false", "modes"), category="swap"),
    Bug("adamw_decay_without_lr", ADAMW, "adamw",
        (("p * (1 - lr * weight_decay)", "p * (1 - weight_decay)"),),
        cause="The decoupled shrink forgets the learning rate: it is p (1 - lr lambda), not p (1 - lambda).",
        keywords=("lr * weight_decay", "lr·λ", "without the learning rate", "without lr"), category="missing-factor"),
    # ---- 5.5 schedules ----
    Bug("cosine_ignores_lr_min", SCHED, "schedules",
        ((COSINE, "return lr_max * (1 + math.cos(math.pi * step / T_max)) / 2"),),
        cause="The cosine schedule anneals to 0 and ignores lr_min: it must be lr_min + (lr_max - lr_min) * ...",
        keywords=("lr_min", "eta_min", "minimum"), category="missing-term"),
    Bug("warmup_ignores_start_factor", SCHED, "schedules",
        (("lr_max * (start_factor + (1 - start_factor) * step / warmup_steps)", "lr_max * step / warmup_steps"),),
        cause="The warmup ramps up from 0 instead of from start_factor * lr_max.",
        keywords=("start_factor", "start factor", "starts at 0"), category="formula"),
    Bug("cosine_not_shifted", SCHED, "schedules",
        (("cosine_lr(step - warmup_steps, total_steps - warmup_steps,", "cosine_lr(step, total_steps,"),),
        cause="After the warmup the cosine is evaluated at step instead of step - warmup_steps, over total_steps "
              "instead of total_steps - warmup_steps.",
        keywords=("shift", "step - warmup", "offset", "warmup_steps"), category="off-by-one"),
]
