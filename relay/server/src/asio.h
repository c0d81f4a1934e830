// The one way the relay includes Boost.Asio: Boost 1.74's asio headers use
// std::exchange without including <utility>, so it comes first here.
#pragma once

#include <utility>

#include <boost/asio.hpp>
