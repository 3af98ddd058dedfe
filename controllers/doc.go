// Package controllers holds one thin reconciler per cxloop kind. A
// reconciler reads objects, calls the engine packages under internal/, and
// writes the result; decisions about customer experience live in the engine.
package controllers
