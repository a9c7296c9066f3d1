package shop

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Catalog is the products on sale at one version of the catalog. It is
// shared by every request that reads it and never modified: a change to the
// catalog makes a new one.
type Catalog struct {
	Version  int64
	Products []Product
}

// DefaultCatalogMaxAge is how long a server uses its copy of the catalog
// before asking the database whether it is still current, unless told
// sooner by CatalogChanged: the longest a change committed by another
// server can go unseen here.
const DefaultCatalogMaxAge = time.Second

// catalogCache is a server's copy of the active products. A copy is used
// while it is younger than maxAge, no newer version has been announced, and
// this server has changed nothing since it was read; then one request asks
// the database for the version, and reads the products again only if it moved.
type catalogCache struct {
	current atomic.Pointer[catalogCopy]
	// announced is the newest version CatalogChanged was told of.
	announced atomic.Int64
	// writes counts this server's own changes to the catalog; each makes
	// the next request check the copy, so an edit shows here at once.
	writes atomic.Uint64
	// checking lets one request at a time check the copy; the others wait
	// for it and use what it found.
	checking chan struct{}
	maxAge   time.Duration
}

type catalogCopy struct {
	catalog *Catalog
	writes  uint64
	checked time.Time
}

func newCatalogCache(maxAge time.Duration) *catalogCache {
	if maxAge <= 0 {
		maxAge = DefaultCatalogMaxAge
	}
	return &catalogCache{checking: make(chan struct{}, 1), maxAge: maxAge}
}

// fresh returns the copy if it may be used at now.
func (c *catalogCache) fresh(now time.Time) (*Catalog, bool) {
	cp := c.current.Load()
	if cp == nil || cp.catalog.Version < c.announced.Load() || cp.writes != c.writes.Load() || now.Sub(cp.checked) >= c.maxAge {
		return nil, false
	}
	return cp.catalog, true
}

// Catalog returns the active products, from this server's copy while it is
// current (see DefaultCatalogMaxAge).
func (s *Service) Catalog(ctx context.Context) (*Catalog, error) {
	c := s.catalog
	if cat, ok := c.fresh(s.now()); ok {
		return cat, nil
	}
	select {
	case c.checking <- struct{}{}:
		defer func() { <-c.checking }()
	case <-ctx.Done():
		return nil, fmt.Errorf("catalog: %w", ctx.Err())
	}
	if cat, ok := c.fresh(s.now()); ok {
		return cat, nil // checked by the request this one waited for
	}
	// Read in this order, the copy is never newer in its label than in its
	// products: a change committed between the two reads only makes the
	// next check read the products again.
	writes, checked := c.writes.Load(), s.now()
	version, err := s.store.CatalogVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	cat := &Catalog{Version: version}
	if cp := c.current.Load(); cp != nil && cp.catalog.Version == version {
		cat = cp.catalog
	} else if cat.Products, err = s.store.Products(ctx, true); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c.current.Store(&catalogCopy{catalog: cat, writes: writes, checked: checked})
	return cat, nil
}

// CatalogChanged tells the service that the catalog reached version (a
// notification from the database): a copy older than that is not used again.
func (s *Service) CatalogChanged(version int64) {
	for {
		seen := s.catalog.announced.Load()
		if version <= seen || s.catalog.announced.CompareAndSwap(seen, version) {
			return
		}
	}
}

// catalogWritten makes the next request check the copy, after this server
// changed the catalog (or may have: a failed write is counted too).
func (s *Service) catalogWritten() { s.catalog.writes.Add(1) }
