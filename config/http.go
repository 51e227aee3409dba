package config

import (
	commonconfig "github.com/prometheus/common/config"
)

// proxySet tells whether any proxy key of the block is in the file.
func (h *rawHTTP) proxySet() bool {
	return h.ProxyURL != nil || h.NoProxy != nil || h.ProxyFromEnvironment != nil || h.ProxyConnectHeader != nil
}

// httpSettings builds the TLS and proxy settings of global or a target. A
// target's tls_config replaces the global one, and a target that sets any
// proxy key replaces the global proxy settings; with no proxy key anywhere
// the proxy comes from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
func (b *builder) httpSettings(label string, h *rawHTTP, inherited *HTTPSettings) HTTPSettings {
	var out HTTPSettings
	if inherited != nil {
		out = *inherited
	} else {
		out.Proxy.ProxyFromEnvironment = true
	}
	if h.TLSConfig != nil {
		out.TLS = *h.TLSConfig
		if err := out.TLS.Validate(); err != nil {
			b.p.add("%s: tls_config: %v", label, err)
		}
		// Relative files are the configuration file's, as in Prometheus.
		out.TLS.SetDirectory(b.baseDir)
	}
	if h.proxySet() {
		out.Proxy = commonconfig.ProxyConfig{ProxyConnectHeader: h.ProxyConnectHeader}
		if h.ProxyURL != nil {
			out.Proxy.ProxyURL = *h.ProxyURL
		}
		if h.NoProxy != nil {
			out.Proxy.NoProxy = *h.NoProxy
		}
		if h.ProxyFromEnvironment != nil {
			out.Proxy.ProxyFromEnvironment = *h.ProxyFromEnvironment
		}
		if err := out.Proxy.Validate(); err != nil {
			b.p.add("%s: %v", label, err)
		}
	}
	return out
}
