// Store, TcpStore, PrefixStore, HashStore and the embeddable StoreServer.
// Keys are str, values bytes (str is accepted and sent as UTF-8). Every call
// that may block releases the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "weft/store.h"

namespace py = pybind11;

namespace weft::py {
namespace {

std::span<const uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
::py::bytes bytes_of(const Bytes& b) {
  return ::py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
}
using Release = ::py::call_guard<::py::gil_scoped_release>;

}  // namespace

void bind_store(::py::module_& m) {
  ::py::class_<Store, std::shared_ptr<Store>>(m, "Store", "A rendezvous key-value store")
      .def("set", [](Store& s, const std::string& key, const std::string& value) {
             ::py::gil_scoped_release r;
             s.set(key, span_of(value));
           }, ::py::arg("key"), ::py::arg("value"))
      .def("get", [](Store& s, const std::string& key) {
             Bytes b;
             {
               ::py::gil_scoped_release r;
               b = s.get(key);
             }
             return bytes_of(b);
           }, ::py::arg("key"), "Waits up to `timeout` for the key")
      .def("add", &Store::add, ::py::arg("key"), ::py::arg("delta"), Release())
      .def("compare_set", [](Store& s, const std::string& key, const std::string& expected,
                             const std::string& desired) {
             Bytes b;
             {
               ::py::gil_scoped_release r;
               b = s.compare_set(key, span_of(expected), span_of(desired));
             }
             return bytes_of(b);
           }, ::py::arg("key"), ::py::arg("expected"), ::py::arg("desired"))
      .def("check", [](Store& s, const std::vector<std::string>& keys) { return s.check(keys); },
           ::py::arg("keys"), Release())
      .def("wait", [](Store& s, const std::vector<std::string>& keys, std::optional<double> t) {
             auto ms = to_ms(t);
             s.wait(keys, ms ? *ms : s.timeout());
           }, ::py::arg("keys"), ::py::arg("timeout") = ::py::none(), Release())
      .def("delete_key", [](Store& s, const std::string& key) { return s.delete_key(key); },
           ::py::arg("key"), Release())
      .def("num_keys", &Store::num_keys, Release())
      .def("multi_get", [](Store& s, const std::vector<std::string>& keys) {
             std::vector<Bytes> values;
             {
               ::py::gil_scoped_release r;
               values = s.multi_get(keys);
             }
             ::py::list out;
             for (const auto& v : values) out.append(bytes_of(v));
             return out;
           }, ::py::arg("keys"))
      .def("multi_set", [](Store& s, const std::vector<std::string>& keys,
                           const std::vector<std::string>& values) {
             std::vector<Bytes> v;
             for (const auto& x : values) v.emplace_back(x.begin(), x.end());
             ::py::gil_scoped_release r;
             s.multi_set(keys, v);
           }, ::py::arg("keys"), ::py::arg("values"))
      .def("append", [](Store& s, const std::string& key, const std::string& value) {
             ::py::gil_scoped_release r;
             s.append(key, span_of(value));
           }, ::py::arg("key"), ::py::arg("value"))
      .def("queue_push", [](Store& s, const std::string& key, const std::string& value) {
             ::py::gil_scoped_release r;
             s.queue_push(key, span_of(value));
           }, ::py::arg("key"), ::py::arg("value"))
      .def("queue_pop", [](Store& s, const std::string& key, bool block) -> ::py::object {
             std::optional<Bytes> v;
             {
               ::py::gil_scoped_release r;
               v = s.queue_pop(key, block);
             }
             if (!v) return ::py::none();
             return bytes_of(*v);
           }, ::py::arg("key"), ::py::arg("block") = true)
      .def("queue_len", [](Store& s, const std::string& key) { return s.queue_len(key); },
           ::py::arg("key"), Release())
      .def_property("timeout",
                    [](const Store& s) { return s.timeout().count() / 1000.0; },
                    [](Store& s, double seconds) { s.set_timeout(*to_ms(seconds)); },
                    "Default timeout of blocking calls, in seconds");

  ::py::class_<TcpStore, Store, std::shared_ptr<TcpStore>>(
      m, "TcpStore", "Client of a weft-store / torch TCPStore server")
      .def(::py::init([](const std::string& host, uint16_t port, std::optional<double> timeout,
                         std::optional<double> connect_timeout, std::optional<std::string> token) {
             TcpStoreOptions o;
             o.host = host;
             o.port = port;
             o.timeout = to_ms(timeout);
             o.connect_timeout = to_ms(connect_timeout);
             o.token = token;
             ::py::gil_scoped_release r;
             return std::shared_ptr<TcpStore>(TcpStore::connect(o));
           }),
           ::py::arg("host") = "127.0.0.1", ::py::arg("port") = 29500,
           ::py::arg("timeout") = ::py::none(), ::py::arg("connect_timeout") = ::py::none(),
           ::py::arg("token") = ::py::none());

  ::py::class_<PrefixStore, Store, std::shared_ptr<PrefixStore>>(
      m, "PrefixStore", "Prefixes every key with '<prefix>/'")
      .def(::py::init<std::string, std::shared_ptr<Store>>(), ::py::arg("prefix"),
           ::py::arg("store"))
      .def_property_readonly("prefix", &PrefixStore::prefix);

  ::py::class_<HashStore, Store, std::shared_ptr<HashStore>>(m, "HashStore",
                                                             "An in-process store")
      .def(::py::init<>());

  ::py::class_<StoreServer>(m, "StoreServer", "A store server running on a thread of this process")
      .def_static("start", [](const std::string& host, uint16_t port,
                              std::optional<std::string> token) {
             StoreServerOptions o;
             o.host = host;
             o.port = port;
             o.token = token;
             return StoreServer::start(o);
           }, ::py::arg("host") = "0.0.0.0", ::py::arg("port") = 0,
           ::py::arg("token") = ::py::none(), "port=0 picks a free port")
      .def_property_readonly("port", &StoreServer::port)
      .def("stop", &StoreServer::stop, Release())
      .def("num_clients", &StoreServer::num_clients)
      .def("num_keys", &StoreServer::num_keys);
}

}  // namespace weft::py
