package chartcheck

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// restrictedVolumes are the volume types that the restricted Pod Security
// Standard allows.
func restrictedVolume(v corev1.Volume) bool {
	s := v.VolumeSource
	return s.ConfigMap != nil || s.CSI != nil || s.DownwardAPI != nil || s.EmptyDir != nil ||
		s.Ephemeral != nil || s.PersistentVolumeClaim != nil || s.Projected != nil || s.Secret != nil
}

// CheckRestricted reports how a pod falls short of the "restricted" Pod
// Security Standard (Kubernetes 1.25 and later, which the admission
// controller enforces in a namespace labelled
// pod-security.kubernetes.io/enforce=restricted), plus what this project
// asks on top: a read-only root file system.
func CheckRestricted(where string, pod corev1.PodSpec) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		bad("hostNetwork, hostPID and hostIPC must be false")
	}
	for _, v := range pod.Volumes {
		if !restrictedVolume(v) {
			bad("volume %q: type not allowed (configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret)", v.Name)
		}
	}
	podNonRoot := psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		bad("pod securityContext.runAsUser is 0")
	}
	podSeccomp := false
	if sp := psc.SeccompProfile; sp != nil {
		switch sp.Type {
		case corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeLocalhost:
			podSeccomp = true
		default:
			bad("pod seccompProfile.type %q: want RuntimeDefault or Localhost", sp.Type)
		}
	}
	for _, s := range psc.Sysctls {
		bad("pod sysctl %q: none is needed", s.Name)
	}
	if o := psc.SELinuxOptions; o != nil && (o.User != "" || o.Role != "") {
		bad("pod seLinuxOptions user/role must not be set")
	}

	var all []corev1.Container
	all = append(all, pod.InitContainers...)
	all = append(all, pod.Containers...)
	if len(pod.Containers) == 0 {
		bad("no containers")
	}
	for _, c := range all {
		cw := fmt.Sprintf("container %q", c.Name)
		sc := c.SecurityContext
		if sc == nil {
			bad("%s: no securityContext", cw)
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			bad("%s: privileged", cw)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			bad("%s: allowPrivilegeEscalation must be false", cw)
		}
		switch {
		case sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot:
			bad("%s: runAsNonRoot is false", cw)
		case sc.RunAsNonRoot == nil && !podNonRoot:
			bad("%s: runAsNonRoot must be true (on the pod or the container)", cw)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			bad("%s: runAsUser is 0", cw)
		}
		if sp := sc.SeccompProfile; sp != nil {
			if sp.Type != corev1.SeccompProfileTypeRuntimeDefault && sp.Type != corev1.SeccompProfileTypeLocalhost {
				bad("%s: seccompProfile.type %q: want RuntimeDefault or Localhost", cw, sp.Type)
			}
		} else if !podSeccomp {
			bad("%s: no seccompProfile (RuntimeDefault) on the pod or the container", cw)
		}
		dropsAll := false
		if caps := sc.Capabilities; caps != nil {
			for _, d := range caps.Drop {
				if d == "ALL" {
					dropsAll = true
				}
			}
			for _, a := range caps.Add {
				if a != "NET_BIND_SERVICE" {
					bad("%s: adds capability %s", cw, a)
				}
			}
		}
		if !dropsAll {
			bad("%s: capabilities.drop must contain ALL", cw)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			bad("%s: readOnlyRootFilesystem must be true", cw)
		}
		if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			bad("%s: procMount must be Default", cw)
		}
		if o := sc.SELinuxOptions; o != nil && (o.User != "" || o.Role != "") {
			bad("%s: seLinuxOptions user/role must not be set", cw)
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				bad("%s: hostPort %d", cw, p.HostPort)
			}
		}
	}
	return problems
}

// CheckProbes reports a main container without the exporter's liveness
// (/-/healthy) and readiness (/-/ready) probes on its http port.
func CheckProbes(where string, pod corev1.PodSpec) []string {
	var problems []string
	for _, c := range pod.Containers {
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"livenessProbe", c.LivenessProbe, "/-/healthy"}, {"readinessProbe", c.ReadinessProbe, "/-/ready"}} {
			switch {
			case p.probe == nil || p.probe.HTTPGet == nil:
				problems = append(problems, fmt.Sprintf("%s: container %q: no httpGet %s", where, c.Name, p.name))
			case p.probe.HTTPGet.Path != p.path:
				problems = append(problems, fmt.Sprintf("%s: container %q: %s on %s, want %s", where, c.Name, p.name, p.probe.HTTPGet.Path, p.path))
			case p.probe.HTTPGet.Port.String() != "http" && p.probe.HTTPGet.Port.IntValue() != 9784:
				problems = append(problems, fmt.Sprintf("%s: container %q: %s on port %s, want http (9784)", where, c.Name, p.name, p.probe.HTTPGet.Port.String()))
			}
		}
	}
	return problems
}
