package cluster

import (
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeConfigName is the cluster, user and context name in kubeconfigs
// written by [Cluster.KubeConfig].
const KubeConfigName = "localcluster"

// KubeConfig returns a kubeconfig file with the admin credentials of c.
func (c *Cluster) KubeConfig() ([]byte, error) {
	return KubeConfigFor(c.Config)
}

// KubeConfigFor serializes cfg (server, CA and client certificate or token)
// as a kubeconfig whose only context is [KubeConfigName].
func KubeConfigFor(cfg *rest.Config) ([]byte, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[KubeConfigName] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos[KubeConfigName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts[KubeConfigName] = &clientcmdapi.Context{Cluster: KubeConfigName, AuthInfo: KubeConfigName, Namespace: "default"}
	kc.CurrentContext = KubeConfigName
	return clientcmd.Write(*kc)
}
