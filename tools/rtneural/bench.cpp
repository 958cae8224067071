// RTNeural's compile-time LSTM and GRU (`ModelT<float, I, H, LSTMLayerT<float, I, H>>`,
// `GRULayerT`), timed for `tools/peers.py` on the reference cases of
// `examples/peer_reference.rs`: the same weights as ours, and the outputs checked against
// ours (within 1e-4) before anything is timed. Built once per backend (and instruction set)
// by `build.sh`.
//
//   rtneural_bench --refs DIR [--configs lstm-b1-h8,gru-b1-h32] [--seconds S]
//
// prints one JSON object per configuration and line:
//   {"name", "backend" (the build), "ns_per_step", "best_ns_per_step", "calls", "max_abs_diff"}
// ns_per_step is the median wall time of one call (reset, then T steps, each step's output
// copied out) divided by T; best_ns_per_step the fastest call. Exits with status 1 when an
// output differs from ours by more than the tolerance.

#include <RTNeural/RTNeural.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

// The build's name: build.sh passes it (the backend, and the instruction set if not native).
#ifdef RTNEURAL_BENCH_BUILD
static const char* const BACKEND = RTNEURAL_BENCH_BUILD;
#elif RTNEURAL_USE_EIGEN
static const char* const BACKEND = "eigen";
#elif RTNEURAL_USE_XSIMD
static const char* const BACKEND = "xsimd";
#else
static const char* const BACKEND = "stl";
#endif

static constexpr double TOLERANCE = 1e-4;
// The xsimd backend loads the input with aligned full-register loads: every step's input
// starts on a 64-byte boundary and is padded to a multiple of 16 floats (one AVX-512 register).
static constexpr size_t ALIGN = 64;
static constexpr size_t PAD = 16;

[[noreturn]] static void fail(const std::string& why)
{
    std::fprintf(stderr, "rtneural_bench (%s): %s\n", BACKEND, why.c_str());
    std::exit(1);
}

// ---------------------------------------------------------------------------------------
// The reference case: a safetensors file of float32 tensors.
// ---------------------------------------------------------------------------------------

struct Tensor
{
    std::vector<size_t> shape;
    std::vector<float> data;
};

using Case = std::map<std::string, Tensor>;

static Case read_case(const std::string& path)
{
    std::ifstream file(path, std::ios::binary);
    if(!file)
        fail("cannot read " + path + " (run examples/peer_reference first)");
    std::stringstream buffer;
    buffer << file.rdbuf();
    const std::string bytes = buffer.str();
    uint64_t header_len = 0;
    if(bytes.size() < 8)
        fail(path + ": not a safetensors file");
    std::memcpy(&header_len, bytes.data(), 8); // little-endian, as x86 is
    const size_t data_start = 8 + header_len;
    const auto header = nlohmann::json::parse(bytes.substr(8, header_len));
    Case out;
    for(const auto& item : header.items())
    {
        if(item.key() == "__metadata__")
            continue;
        if(item.value()["dtype"] != "F32")
            fail(path + ": " + item.key() + " is not F32");
        Tensor t;
        t.shape = item.value()["shape"].get<std::vector<size_t>>();
        const auto offsets = item.value()["data_offsets"].get<std::vector<size_t>>();
        t.data.resize((offsets[1] - offsets[0]) / sizeof(float));
        std::memcpy(t.data.data(), bytes.data() + data_start + offsets[0], offsets[1] - offsets[0]);
        out[item.key()] = std::move(t);
    }
    for(const char* name : { "kernel", "recurrent_kernel", "bias", "inputs", "outputs" })
        if(out.find(name) == out.end())
            fail(path + ": no tensor " + name);
    return out;
}

// A [rows, cols] tensor as RTNeural's setWVals/setUVals/setBVals take it.
static std::vector<std::vector<float>> rows_of(const Tensor& t)
{
    const size_t cols = t.shape.back();
    std::vector<std::vector<float>> rows;
    for(size_t r = 0; r < t.data.size() / cols; ++r)
        rows.emplace_back(t.data.begin() + r * cols, t.data.begin() + (r + 1) * cols);
    return rows;
}

// Keras's weights into RTNeural's layers: both read Keras's [I, G*H] layout and gate order.
template <typename Layer>
static void load_lstm(Layer& layer, const Case& c)
{
    layer.setWVals(rows_of(c.at("kernel")));
    layer.setUVals(rows_of(c.at("recurrent_kernel")));
    layer.setBVals(c.at("bias").data);
}

template <typename Layer>
static void load_gru(Layer& layer, const Case& c)
{
    layer.setWVals(rows_of(c.at("kernel")));
    layer.setUVals(rows_of(c.at("recurrent_kernel")));
    layer.setBVals(rows_of(c.at("bias"))); // [2, 3H]: input bias, recurrent bias
}

// ---------------------------------------------------------------------------------------
// Running and timing one configuration
// ---------------------------------------------------------------------------------------

struct AlignedFree
{
    void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

static Buffer aligned_floats(size_t n)
{
    const size_t bytes = (n * sizeof(float) + ALIGN - 1) / ALIGN * ALIGN;
    auto* p = static_cast<float*>(std::aligned_alloc(ALIGN, bytes));
    if(p == nullptr)
        fail("out of memory");
    std::memset(p, 0, bytes);
    return Buffer(p);
}

template <int I, int H, typename Layer, typename Load>
static void run_config(const std::string& name, const Case& c, double seconds, Load load)
{
    // Large (H = 128: half a megabyte of weights): on the heap, never on the stack.
    using Model = RTNeural::ModelT<float, I, H, Layer>;
    auto model = std::make_unique<Model>();
    load(model->template get<0>(), c);

    const Tensor& inputs = c.at("inputs");
    const Tensor& expected = c.at("outputs");
    if(inputs.shape.size() != 3 || inputs.shape[0] != 1 || inputs.shape[2] != (size_t)I)
        fail(name + ": RTNeural runs one sequence of I = " + std::to_string(I) + " inputs");
    const size_t steps = inputs.shape[1];
    const size_t stride = (I + PAD - 1) / PAD * PAD;
    Buffer xs = aligned_floats(steps * stride);
    for(size_t t = 0; t < steps; ++t)
        std::memcpy(xs.get() + t * stride, inputs.data.data() + t * I, I * sizeof(float));
    std::vector<float> ys(steps * H);

    // One call: the sequence from the zero state, every step's output read out.
    auto call = [&]
    {
        model->reset();
        for(size_t t = 0; t < steps; ++t)
        {
            model->forward(xs.get() + t * stride);
            std::memcpy(ys.data() + t * H, model->getOutputs(), H * sizeof(float));
        }
    };

    call();
    double max_diff = 0.0;
    for(size_t k = 0; k < ys.size(); ++k)
        max_diff = std::max(max_diff, (double)std::fabs(ys[k] - expected.data[k]));
    if(!(max_diff <= TOLERANCE))
        fail(name + ": outputs differ from rnn's by " + std::to_string(max_diff) + " > 1e-4");

    using Clock = std::chrono::steady_clock;
    const auto warm_until = Clock::now() + std::chrono::milliseconds(300);
    while(Clock::now() < warm_until)
        call();
    std::vector<double> times;
    const auto start = Clock::now();
    const auto budget = std::chrono::duration<double>(seconds);
    while(times.size() < 5 || Clock::now() - start < budget)
    {
        const auto t0 = Clock::now();
        call();
        times.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2] / steps;
    std::printf("{\"name\": \"%s\", \"backend\": \"%s\", \"ns_per_step\": %.2f, "
                "\"best_ns_per_step\": %.2f, \"calls\": %zu, \"max_abs_diff\": %.3g}\n",
        name.c_str(), BACKEND, median, times.front() / steps, times.size(), max_diff);
    std::fflush(stdout);
}

template <int H>
static void lstm(const std::string& name, const Case& c, double seconds)
{
    run_config<H, H, RTNeural::LSTMLayerT<float, H, H>>(name, c, seconds,
        [](auto& layer, const Case& k)
        { load_lstm(layer, k); });
}

template <int H>
static void gru(const std::string& name, const Case& c, double seconds)
{
    run_config<H, H, RTNeural::GRULayerT<float, H, H>>(name, c, seconds,
        [](auto& layer, const Case& k)
        { load_gru(layer, k); });
}

using Runner = std::function<void(const std::string&, const Case&, double)>;

// The configurations: sizes are template arguments, so each has its instance.
static const std::map<std::string, Runner>& configs()
{
    static const std::map<std::string, Runner> table = {
        { "lstm-b1-h8", lstm<8> },
        { "lstm-b1-h16", lstm<16> },
        { "lstm-b1-h32", lstm<32> },
        { "lstm-b1-h64", lstm<64> },
        { "lstm-b1-h128", lstm<128> },
        { "gru-b1-h32", gru<32> },
    };
    return table;
}

static std::vector<std::string> split(const std::string& list)
{
    std::vector<std::string> out;
    std::stringstream in(list);
    for(std::string item; std::getline(in, item, ',');)
        if(!item.empty())
            out.push_back(item);
    return out;
}

int main(int argc, char** argv)
{
    std::string refs;
    std::vector<std::string> names;
    double seconds = 2.0;
    for(int i = 1; i + 1 < argc; i += 2)
    {
        const std::string flag = argv[i], value = argv[i + 1];
        if(flag == "--refs")
            refs = value;
        else if(flag == "--configs")
            names = split(value);
        else if(flag == "--seconds")
            seconds = std::atof(value.c_str());
        else
            fail("unknown option " + flag);
    }
    if(refs.empty())
        fail("usage: rtneural_bench --refs DIR [--configs a,b] [--seconds S]");
    if(names.empty())
        for(const auto& entry : configs())
            names.push_back(entry.first);
    for(const auto& name : names)
    {
        const auto it = configs().find(name);
        if(it == configs().end())
            fail("unknown configuration " + name);
        it->second(name, read_case(refs + "/" + name + ".safetensors"), seconds);
    }
    return 0;
}
