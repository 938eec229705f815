// make_device_comm for builds without CUDA.
#include "comm/device_comm.h"

#include "weft/error.h"

namespace weft {

std::unique_ptr<DeviceComm> make_device_comm(Store&, const DeviceCommSetup& setup) {
  throw_error(ErrorCode::Unsupported,
              str("rank ", setup.rank, ": Communicator::init on CUDA device ", setup.device,
                  ": this weft was built without CUDA (WEFT_CUDA=OFF or no toolkit found)"));
}

std::unique_ptr<DeviceComm> make_multihost_device_comm(Communicator&, Store& store,
                                                       const DeviceCommSetup& setup,
                                                       const std::vector<std::string>&) {
  return make_device_comm(store, setup);
}

}  // namespace weft
