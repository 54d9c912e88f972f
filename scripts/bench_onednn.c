// LeNet-5's two convolutions in oneDNN (Debian's libdnnl-dev), for scripts/bench: the seconds an
// epoch takes in the convolution layers alone (forward, input gradient and weight gradient on
// 60,000 training images in batches of 64, then forward on 10,000 test images), each primitive
// on the memory layouts oneDNN prefers (reorders from NCHW not counted: oneDNN at its best).
// Build: cc -O2 scripts/bench_onednn.c -ldnnl -o bench_onednn; run: ./bench_onednn [RUNS]
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call) do { dnnl_status_t s_ = (call); if (s_ != dnnl_success) { \
    fprintf(stderr, "bench_onednn: %s failed (%d)\n", #call, (int)s_); exit(1); } } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static dnnl_memory_t memory_for(dnnl_primitive_desc_t pd, dnnl_query_t what, dnnl_engine_t engine) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, 0);
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE));
    void *p;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    for (size_t i = 0; i < n; i++) ((float *)p)[i] = (float)(i % 13) * 0.01f - 0.06f;
    return m;
}

// One convolution layer: its forward (training), input gradient (unless first) and weight
// gradient primitives and their memories, for batch `n`.
typedef struct {
    dnnl_primitive_t fwd, bwd_data, bwd_weights;
    dnnl_exec_arg_t fwd_args[4], data_args[3], weights_args[4];
} layer;

static layer make(dnnl_engine_t engine, int n, int c, int h, int w, int o, int k, int pad, int first) {
    layer l = {0};
    int oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1;
    dnnl_dims_t src = {n, c, h, w}, wei = {o, c, k, k}, bias = {o}, dst = {n, o, oh, ow};
    dnnl_dims_t strides = {1, 1}, padding = {pad, pad};
    dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
    CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, src, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&wei_md, 4, wei, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&bias_md, 1, bias, dnnl_f32, dnnl_x));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst, dnnl_f32, dnnl_format_tag_any));

    dnnl_convolution_desc_t fd, dd, wd;
    dnnl_primitive_desc_t fpd, dpd, wpd;
    CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src_md, &wei_md, &bias_md,
                                             &dst_md, strides, padding, padding));
    CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL));
    CHECK(dnnl_primitive_create(&l.fwd, fpd));
    dnnl_memory_t s = memory_for(fpd, dnnl_query_src_md, engine), wm = memory_for(fpd, dnnl_query_weights_md, engine);
    dnnl_memory_t b, d = memory_for(fpd, dnnl_query_dst_md, engine);
    CHECK(dnnl_memory_create(&b, dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 1), engine, DNNL_MEMORY_ALLOCATE));
    l.fwd_args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s};
    l.fwd_args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, wm};
    l.fwd_args[2] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, b};
    l.fwd_args[3] = (dnnl_exec_arg_t){DNNL_ARG_DST, d};

    CHECK(dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src_md, &wei_md, &bias_md, &dst_md,
                                                      strides, padding, padding));
    CHECK(dnnl_primitive_desc_create(&wpd, &wd, NULL, engine, fpd));
    CHECK(dnnl_primitive_create(&l.bwd_weights, wpd));
    l.weights_args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, memory_for(wpd, dnnl_query_src_md, engine)};
    l.weights_args[1] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, memory_for(wpd, dnnl_query_diff_dst_md, engine)};
    l.weights_args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, memory_for(wpd, dnnl_query_diff_weights_md, engine)};
    {
        dnnl_memory_t db;
        CHECK(dnnl_memory_create(&db, dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 1), engine, DNNL_MEMORY_ALLOCATE));
        l.weights_args[3] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, db};
    }
    if (!first) {
        CHECK(dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &src_md, &wei_md, &dst_md,
                                                       strides, padding, padding));
        CHECK(dnnl_primitive_desc_create(&dpd, &dd, NULL, engine, fpd));
        CHECK(dnnl_primitive_create(&l.bwd_data, dpd));
        l.data_args[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, memory_for(dpd, dnnl_query_diff_dst_md, engine)};
        l.data_args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, memory_for(dpd, dnnl_query_weights_md, engine)};
        l.data_args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, memory_for(dpd, dnnl_query_diff_src_md, engine)};
    }
    return l;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    // LeNet-5: conv2d 1 6 5 padding=2 on 1x28x28, conv2d 6 16 5 on 6x14x14; batch 64.
    layer conv[2] = {make(engine, 64, 1, 28, 28, 6, 5, 2, 1), make(engine, 64, 6, 14, 14, 16, 5, 0, 0)};
    const int trainBatches = 60000 / 64, testBatches = 10000 / 64;
    double best = 1e30, parts[3] = {0};
    for (int r = 0; r <= runs; r++) {
        double t[3] = {0};
        for (int b = 0; b < trainBatches + testBatches; b++) {
            for (int i = 0; i < 2; i++) {
                double s = now();
                CHECK(dnnl_primitive_execute(conv[i].fwd, stream, 4, conv[i].fwd_args));
                CHECK(dnnl_stream_wait(stream));
                t[0] += now() - s;
            }
            if (b >= trainBatches) continue;
            for (int i = 1; i >= 0; i--) {
                double s = now();
                if (conv[i].bwd_data) {
                    CHECK(dnnl_primitive_execute(conv[i].bwd_data, stream, 3, conv[i].data_args));
                    CHECK(dnnl_stream_wait(stream));
                }
                double m = now();
                CHECK(dnnl_primitive_execute(conv[i].bwd_weights, stream, 4, conv[i].weights_args));
                CHECK(dnnl_stream_wait(stream));
                t[1] += m - s;
                t[2] += now() - m;
            }
        }
        // The first run warms up (JIT kernels, thread pool); the best of the others counts.
        if (r > 0 && t[0] + t[1] + t[2] < best) {
            best = t[0] + t[1] + t[2];
            for (int i = 0; i < 3; i++) parts[i] = t[i];
        }
    }
    printf("onednn: %.3f s an epoch in the convolutions (forward %.3f, input gradient %.3f, weight gradient %.3f)\n",
           best, parts[0], parts[1], parts[2]);
    return 0;
}
