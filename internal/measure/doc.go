// Package measure turns sufficient statistics into the customer-experience
// numbers owners are judged by. It must not import Kubernetes packages.
package measure
